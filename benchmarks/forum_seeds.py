"""mi-forum's gold sentences coded out of fold by one seed's fold models, by another's, and by the two averaged.

The shipped behaviour coder averages two trainings that differ only in their seed
(``mifidelity.coding.trained.SHIPPED_SEEDS``). ``python -m mifidelity.training.evaluate`` scores the forum's gold
sentences with one seed's fold models; this codes them as the shipped coder would, with the two seeds' models of
the same fold averaged (:class:`~mifidelity.coding.trained.TrainedCoder` given both artifacts: plain-speech cues and
the joint decision on the averaged probabilities). Both runs must use the same folds (``evaluate`` keeps the
default seed's folds whatever ``--seed`` is) and ``--keep-fold-models``::

    python -m mifidelity.training.evaluate --folds 5 --no-baseline --no-speed --keep-fold-models A/
    python -m mifidelity.training.evaluate --folds 5 --no-baseline --no-speed --seed 7 --keep-fold-models B/
    PYTHONPATH=src .venv/bin/python benchmarks/forum_seeds.py A/ B/ [--forum ../shared/data/mi-forum]

Prints, per coder and condition (as written / without punctuation, alone / after a client turn), the macro-F1 of
main behaviour, question and reflection type and main behaviour per class. Numbers only, never sentence text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mifidelity.coding.base import MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN  # noqa: E402
from mifidelity.coding.trained import TrainedCoder  # noqa: E402
from mifidelity.training.data import DEFAULT_FORUM_DIR  # noqa: E402
from mifidelity.training.evaluate import GOLD_FOLDS_CSV  # noqa: E402
from mifidelity.training.forum_behaviour import forum_training_rows, gold_codes, gold_table  # noqa: E402


def fold_assignment(fold_dirs: list[Path]) -> pd.Series:
    """The fold that held out each gold sentence (by position); every run must have used the same folds."""
    assignments = [pd.read_csv(d / GOLD_FOLDS_CSV)["fold"] for d in fold_dirs]
    for other, path in zip(assignments[1:], fold_dirs[1:]):
        if not other.equals(assignments[0]):
            raise SystemExit(f"{path} held out other gold sentences than {fold_dirs[0]}: not the same folds")
    return assignments[0]


def out_of_fold_codes(fold_dirs: list[Path], texts: list[str], fold: pd.Series) -> dict[str, pd.DataFrame]:
    """Each condition's codes of every sentence, by the fold models (of every run in ``fold_dirs``) that never saw it."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for k in sorted(fold.unique()):
        rows = fold.index[fold == k]
        coder = TrainedCoder([str(d / f"fold{k + 1}.npz") for d in fold_dirs]).load()
        for name, frame in gold_codes(coder, [texts[i] for i in rows]).items():
            parts.setdefault(name, []).append(frame.set_axis(rows))
    return {name: pd.concat(frames).sort_index() for name, frames in parts.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs=2, type=Path, help="two --keep-fold-models folders (same folds, other seeds)")
    parser.add_argument("--forum", default=DEFAULT_FORUM_DIR, help="mi-forum folder (default %(default)s)")
    args = parser.parse_args(argv)
    gold = forum_training_rows(args.forum, gold=True, silver=False)
    fold = fold_assignment(args.runs)
    if len(fold) != len(gold):
        raise SystemExit(f"{len(fold)} held-out sentences in {args.runs[0]}, {len(gold)} gold sentences in {args.forum}")
    truth = gold[[MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN]]
    texts = gold["text"].tolist()
    for name, dirs in ((f"A ({args.runs[0]})", [args.runs[0]]), (f"B ({args.runs[1]})", [args.runs[1]]),
                       ("A + B averaged", list(args.runs))):
        table, _ = gold_table(truth, out_of_fold_codes(dirs, texts, fold))
        print(f"\n{name}: mi-forum gold, {len(gold)} sentences out of fold\n{table.to_string()}")


if __name__ == "__main__":
    main()
