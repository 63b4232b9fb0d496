"""Trainings of the adherence coder that differ only in their seed (or recipe): each alone, and their average.

Reads out-of-fold probabilities written by ``python -m mifidelity.training.adherence evaluate
--save-probabilities A.npz`` (same folds whatever the seed: ``--seed`` changes only the weights'
initialisation and the batch order) and prints, per run and for the average of the runs' probabilities
(what an ensemble of them would code), per text version (as written, "clean"; lower-cased without
punctuation, "asr"), on mi-gold read the MITI way:

- macro-F1 over the five codes mi-gold has (``training.adherence.GOLD_SCORED``) and F1 per code;
- log loss of the human code.

Figures are in docs/model-card-adherence.md. Prints numbers only, never text.

    PYTHONPATH=src .venv/bin/python benchmarks/adherence_seeds.py A.npz B.npz [--average A.npz B.npz]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mifidelity.coding.base import ADHERENCE_LABELS  # noqa: E402
from mifidelity.training.adherence import GOLD_SCORED, macro_f1  # noqa: E402
from mifidelity.training.data import VERSIONS  # noqa: E402


def gold_scores(labels: np.ndarray, probabilities: dict[str, np.ndarray]) -> dict[str, float]:
    """Macro-F1, F1 per code and log loss per text version."""
    row: dict[str, float] = {}
    for version in VERSIONS:
        p = probabilities[version]
        macro, per_class = macro_f1(labels, p.argmax(1), GOLD_SCORED)
        row[f"macro-F1 {version}"] = round(macro, 3)
        row[f"log loss {version}"] = round(float(log_loss(labels, p / p.sum(1, keepdims=True),
                                                          labels=range(len(ADHERENCE_LABELS)))), 3)
        if version == "clean":
            row.update({f"{label[:10]} F1": value for label, value in per_class.items()})
    return row


def load(path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as data:
        return data["gold_labels"], {v: data[f"gold/{v}"] for v in VERSIONS}


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="out-of-fold probabilities of each run (evaluate --save-probabilities)")
    parser.add_argument("--average", nargs="*", default=None,
                        help="the runs to average (default: all of them)")
    args = parser.parse_args(argv)
    loaded = {path: load(path) for path in dict.fromkeys(args.runs + (args.average or []))}
    labels = next(iter(loaded.values()))[0]
    if any(not np.array_equal(labels, other) for other, _ in loaded.values()):
        raise SystemExit("the runs were not made on the same mi-gold sentences in the same order")
    rows = {Path(path).stem: gold_scores(labels, p) for path, (_, p) in loaded.items()}
    members = args.average if args.average is not None else args.runs
    if len(members) > 1:
        mean = {v: np.mean([loaded[m][1][v] for m in members], axis=0) for v in VERSIONS}
        rows["average of " + " + ".join(Path(m).stem for m in members)] = gold_scores(labels, mean)
    table = pd.DataFrame(rows).T
    print(f"mi-gold, MITI's reading: {len(labels)} sentences")
    print(table.to_string())
    return table


if __name__ == "__main__":
    main()
