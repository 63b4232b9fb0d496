"""Two trainings of the behaviour coder that differ only in their seed: how far apart, and what their average buys.

Reads two sets of out-of-fold AnnoMI probabilities on the same folds (``python -m
mifidelity.training.evaluate --folds 5 --save-probabilities A.npz`` and the same with ``--seed N
--save-probabilities B.npz``) and prints, for each run and for the average of their probabilities (what an
ensemble of the two would code), per text version (as written, "clean"; lower-cased without punctuation,
"asr"):

- macro-F1 of the network's top code (main behaviour, question, reflection, giving information, client talk);
- log loss of the experts' code (main behaviour, client talk);
- the Spearman of each session metric with the experts' (counted codes, MITI's volley rule, as
  :func:`mifidelity.training.session_data.coded_table` makes the table).

Figures are in docs/model-card.md ("Two seeds"). Prints numbers only, never utterance text.

    PYTHONPATH=src .venv/bin/python benchmarks/coder_seeds.py --coder-oof A.npz --other-oof B.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, log_loss

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prior_adaptation import METRICS, rank_agreement, session_values  # noqa: E402

from mifidelity.coding.base import LABELS  # noqa: E402
from mifidelity.coding.features import strip_asr  # noqa: E402
from mifidelity.training.data import VERSIONS, load_annomi  # noqa: E402
from mifidelity.training.session_data import coded_table, coder_probabilities  # noqa: E402

F1_TASKS = ("main_behaviour", "question", "reflection", "giving_information", "client_talk")
LOG_LOSS_TASKS = ("main_behaviour", "client_talk")


def scores(data: pd.DataFrame, probabilities: dict, expert: pd.DataFrame, groups: dict) -> list[dict]:
    """One row per text version: macro-F1, log loss and session-metric Spearman."""
    rows = []
    for version in VERSIONS:
        network = probabilities[version]
        row = {"text": version}
        for task in F1_TASKS:
            labels = list(LABELS[task])
            coded = data[task].isin(labels).to_numpy()
            truth = data.loc[coded, task].map(labels.index).to_numpy()
            p = network[task][coded]
            row[f"{task} F1"] = f1_score(truth, p.argmax(1), average="macro")
            if task in LOG_LOSS_TASKS:
                row[f"{task} log loss"] = log_loss(truth, p / p.sum(1, keepdims=True), labels=range(len(labels)))
        as_read = data.assign(text=[strip_asr(t) for t in data["text"]]) if version == "asr" else data
        values = session_values(data, coded_table(as_read, network, None), groups)
        row.update({short: rank_agreement(values[name], expert[name]) for name, short in METRICS.items()})
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", default="../shared/data/annomi", help="AnnoMI folder (AnnoMI-full.dev.csv)")
    parser.add_argument("--coder-oof", required=True, metavar="NPZ", help="the shipped seed's out-of-fold probabilities")
    parser.add_argument("--other-oof", required=True, metavar="NPZ", help="another seed's, on the same folds")
    args = parser.parse_args(argv)

    data = load_annomi(args.annomi)
    groups = data.groupby("transcript_id", sort=True).indices
    expert = session_values(data, coded_table(data, None, None), groups)
    runs = {"first seed": coder_probabilities(args.coder_oof, data),
            "second seed": coder_probabilities(args.other_oof, data),
            "both, averaged (shipped)": coder_probabilities([args.coder_oof, args.other_oof], data)}
    table = pd.DataFrame([{"coder": name, **row}
                          for name, probabilities in runs.items()
                          for row in scores(data, probabilities, expert, groups)])
    print("Out-of-fold AnnoMI codes of two seeds and of their average (macro-F1, log loss, session Spearman):")
    print(table.set_index(["coder", "text"]).T.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
