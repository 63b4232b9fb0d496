"""HLQC sessions that are the same video as an AnnoMI transcript, coded out of fold (evaluate --hlqc-twins)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mifidelity.training.hlqc import TwinsOutOfFold
from mifidelity.training.train import FoldCoder
from support.folds import ShippedFoldModel as FoldModel

TRANSCRIPT = ("role,text\ncoach,so what brings you in today\nclient,i think i drink a bit too much on weekends\n"
              "coach,you are worried about the weekends\nclient,yeah i want to cut down\n")


def test_each_twin_is_coded_by_the_fold_model_that_never_saw_its_annomi_transcript(tmp_path):
    hlqc = tmp_path / "hlqc"
    (hlqc / "transcripts").mkdir(parents=True)
    for name in ("hlqc-high_001", "hlqc-low_002", "hlqc-high_003"):
        (hlqc / "transcripts" / f"{name}.csv").write_text(TRANSCRIPT)
    (hlqc / "labels.csv").write_text("session,quality,same_video_as_annomi_transcript\n"
                                     "hlqc-high_001,high,5.0\nhlqc-low_002,low,9.0\nhlqc-high_003,high,\n")
    data = pd.DataFrame({"transcript_id": [5, 5, 9, 9, 12]})
    work, saved = tmp_path / "work", []
    work.mkdir()
    hook = TwinsOutOfFold(data, hlqc, FoldCoder(work))

    hook(0, FoldModel("first", saved), np.array([0, 1, 4]))  # holds out transcripts 5 and 12
    assert set(hook.coded) == {"hlqc-high_001"}
    with pytest.raises(RuntimeError, match="1 HLQC twins were never coded"):
        hook.save(tmp_path / "twins.csv")

    hook(1, FoldModel("second", saved), np.array([2, 3]))  # holds out transcript 9
    assert saved == [("first", "fold1.npz"), ("second", "fold2.npz")]  # each fold saves its own model once
    assert set(hook.coded) == {"hlqc-high_001", "hlqc-low_002"}  # the session with no AnnoMI twin is not coded

    hook.save(tmp_path / "twins.csv")
    table = pd.read_csv(tmp_path / "twins.csv")
    assert "text" not in table.columns  # codes and probabilities only
    assert table.groupby("session")["annomi_transcript"].first().to_dict() == {"hlqc-high_001": 5, "hlqc-low_002": 9}
    coach = table[table["role"] == "coach"]
    assert len(coach) == 4 and coach["main_behaviour"].notna().all()
    assert table.loc[table["role"] == "client", "client_talk"].notna().all()
