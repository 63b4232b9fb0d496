"""mi-forum gold sentences held out fold by fold (evaluate --keep-fold-models), and two runs' fold models averaged."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from mifidelity.coding.base import MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN
from mifidelity.training.evaluate import GOLD_FOLDS_CSV, ForumGoldOutOfFold
from mifidelity.training.train import FoldCoder
from support import ROOT
from support.folds import ShippedFoldModel as FoldModel

sys.path.insert(0, str(ROOT / "benchmarks"))

SENTENCES = [("what would you like to change about your drinking", "question", "open", None),
             ("you should stop smoking right now", "other", None, None),
             ("you are worried about your health", "reflection", None, "simple"),
             ("drinking raises your blood pressure", "input", None, None)]


def test_each_gold_sentence_records_the_fold_that_held_it_out_and_runs_must_share_folds(tmp_path):
    pytest.importorskip("sklearn")
    from forum_seeds import fold_assignment, out_of_fold_codes

    annomi = pd.DataFrame({"text": ["hello there", "hi"], MAIN_BEHAVIOUR_COLUMN: ["other", None],
                           QUESTION_COLUMN: [None, None], REFLECTION_COLUMN: [None, None]})
    gold = pd.DataFrame(SENTENCES, columns=["text", MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN])
    data = pd.concat([annomi, gold], ignore_index=True)
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        run.mkdir()
        hook = ForumGoldOutOfFold(data, np.arange(2, 6), FoldCoder(run))
        hook(0, FoldModel(), np.array([0, 2, 5]))  # holds out gold sentences 0 and 3
        with pytest.raises(RuntimeError, match="2 mi-forum gold sentences were never held out"):
            hook.save_folds(run / GOLD_FOLDS_CSV)
        hook(1, FoldModel(), np.array([1, 3, 4]))  # and 1, 2
        hook.save_folds(run / GOLD_FOLDS_CSV)

    saved = pd.read_csv(runs[0] / GOLD_FOLDS_CSV)
    assert "text" not in saved.columns
    assert saved["fold"].tolist() == [0, 1, 1, 0]
    fold = fold_assignment(runs)
    codes = out_of_fold_codes(runs, gold["text"].tolist(), fold)
    assert len(codes) == 4  # as written / without punctuation, alone / after a client turn
    assert all(frame.index.tolist() == [0, 1, 2, 3] for frame in codes.values())
    assert codes["clean, alone"].loc[0, MAIN_BEHAVIOUR_COLUMN] == "question"

    other = pd.DataFrame({"gold_position": range(4), "fold": [1, 1, 0, 0]})
    other.to_csv(runs[1] / GOLD_FOLDS_CSV, index=False)
    with pytest.raises(SystemExit, match="not the same folds"):
        fold_assignment(runs)
