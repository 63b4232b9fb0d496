"""Would adapting the coder to each session's own mix of behaviours bring its counts closer to the experts'?

The coder over-counts reflections in low-quality AnnoMI sessions and under-counts them in high-quality
ones (a pull towards the average mix). This benchmark tries the textbook correction for such a shift
(Saerens, Latinne & Decaestecker 2002): EM on a session's main-behaviour probabilities towards the
session's own class mix, pulled towards the training mix by ``alpha`` pseudo-utterances, applied before
the plain-speech cues and the joint decision, as :func:`mifidelity.training.session_data.coded_table`
makes the table. It is **not** in the pipeline; docs/model-card.md ("How we got here") says why.

Printed per text version (as written, "clean"; lower-cased without punctuation, "asr") and ``alpha``
(none = the pipeline as it is): the session metrics' Spearman against the experts' (100 AnnoMI
transcripts, out-of-fold coder probabilities from ``python -m mifidelity.training.evaluate
--save-probabilities OOF.npz``), main-behaviour macro-F1 and log loss on the coach utterances, and for
``--bootstrap-alpha`` the 95% bootstrap interval (over sessions) of each metric's change in Spearman.
Prints numbers only, never utterance text.

    PYTHONPATH=src .venv/bin/python benchmarks/prior_adaptation.py --coder-oof OOF.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mifidelity.coding.base import LABELS, MAIN_BEHAVIOUR_COLUMN  # noqa: E402
from mifidelity.coding.features import strip_asr  # noqa: E402
from mifidelity.metrics import compute_metrics  # noqa: E402
from mifidelity.training.data import VERSIONS, load_annomi  # noqa: E402
from mifidelity.training.session_data import coded_table, coder_probabilities  # noqa: E402

METRICS = {"reflection_to_question": "R:Q", "pct_complex_reflections": "%CR", "pct_open_questions": "%OQ",
           "pct_change_talk": "%CT"}


def adapted(probabilities: np.ndarray, prior: np.ndarray, alpha: float, iterations: int = 20) -> np.ndarray:
    """One session's class probabilities re-weighted to its EM-estimated class mix (Dirichlet pull ``alpha``)."""
    mix = prior.copy()
    for _ in range(iterations):
        posterior = probabilities * (mix / prior)
        posterior /= posterior.sum(1, keepdims=True)
        mix = (posterior.sum(0) + alpha * prior) / (len(probabilities) + alpha)
    posterior = probabilities * (mix / prior)
    return posterior / posterior.sum(1, keepdims=True)


def adapted_sessions(main: np.ndarray, groups: dict, coach: np.ndarray, prior: np.ndarray, alpha: float) -> np.ndarray:
    """Every session's coach rows of ``main`` adapted to that session's own mix (:func:`adapted`)."""
    out = main.copy()
    for index in groups.values():
        coached = index[coach[index]]
        if len(coached):
            out[coached] = adapted(main[coached], prior, alpha)
    return out


def session_values(data: pd.DataFrame, coded: pd.DataFrame, groups: dict) -> pd.DataFrame:
    rows = []
    for transcript, index in groups.items():
        metrics = compute_metrics(coded.iloc[index].reset_index(drop=True))
        rows.append({"transcript": transcript, **{name: getattr(metrics, name) for name in METRICS}})
    return pd.DataFrame(rows).set_index("transcript")


def rank_agreement(values: pd.Series, expert: pd.Series) -> float:
    both = pd.concat([values, expert], axis=1).replace(np.inf, np.nan).dropna()
    return float(spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)


def bootstrap_change(before: pd.Series, after: pd.Series, expert: pd.Series, rounds: int, seed: int = 0):
    both = pd.concat([before, after, expert], axis=1).replace(np.inf, np.nan).dropna().to_numpy()
    rng = np.random.default_rng(seed)
    changes = []
    for _ in range(rounds):
        sample = both[rng.integers(0, len(both), len(both))]
        changes.append(spearmanr(sample[:, 1], sample[:, 2]).statistic - spearmanr(sample[:, 0], sample[:, 2]).statistic)
    return np.percentile(changes, [2.5, 97.5])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", default="../shared/data/annomi", help="AnnoMI folder (AnnoMI-full.dev.csv)")
    parser.add_argument("--coder-oof", required=True, metavar="NPZ", help="evaluate --save-probabilities output")
    parser.add_argument("--alphas", type=float, nargs="+", default=[2, 5, 10, 20, 40, 160])
    parser.add_argument("--bootstrap-alpha", type=float, nargs="*", default=[10, 20])
    parser.add_argument("--rounds", type=int, default=400, help="bootstrap rounds (default %(default)s)")
    args = parser.parse_args(argv)

    data = load_annomi(args.annomi)
    probabilities = coder_probabilities(args.coder_oof, data)
    groups = data.groupby("transcript_id", sort=True).indices
    coach = (data["role"] == "coach").to_numpy()
    labels = list(LABELS[MAIN_BEHAVIOUR_COLUMN])
    truth = data[MAIN_BEHAVIOUR_COLUMN].to_numpy()
    truth_index = np.array([labels.index(v) for v in truth[coach]])
    expert = session_values(data, coded_table(data, None, None), groups)
    rows, bootstrap = [], []
    for version in VERSIONS:
        as_read = data.assign(text=[strip_asr(t) for t in data["text"]]) if version == "asr" else data
        network = probabilities[version]
        prior = network[MAIN_BEHAVIOUR_COLUMN][coach].mean(0)
        baseline, baseline_row = None, None
        for alpha in [None, *args.alphas]:
            main = network[MAIN_BEHAVIOUR_COLUMN]
            if alpha is not None:
                main = adapted_sessions(main, groups, coach, prior, alpha)
            coded = coded_table(as_read, {**network, MAIN_BEHAVIOUR_COLUMN: main}, None)
            values = session_values(data, coded, groups)
            picked = main[coach][np.arange(coach.sum()), truth_index]
            rows.append({"version": version, "alpha": "none" if alpha is None else f"{alpha:g}",
                         **{short: rank_agreement(values[name], expert[name]) for name, short in METRICS.items()},
                         "main F1": f1_score(truth[coach], coded[MAIN_BEHAVIOUR_COLUMN].to_numpy()[coach], average="macro"),
                         "main log loss": float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())})
            if alpha is None:
                baseline, baseline_row = values, rows[-1]
            elif alpha in args.bootstrap_alpha:
                for name, short in METRICS.items():
                    low, high = bootstrap_change(baseline[name], values[name], expert[name], args.rounds)
                    bootstrap.append({"version": version, "alpha": f"{alpha:g}", "metric": short,
                                      "change": rows[-1][short] - baseline_row[short], "95% low": low, "95% high": high})
    print("Session metrics' rank agreement with the experts (Spearman), main-behaviour macro-F1 and log loss:")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if bootstrap:
        print(f"\nChange in Spearman against no adaptation, 95% bootstrap interval over sessions ({args.rounds} rounds):")
        print(pd.DataFrame(bootstrap).to_string(index=False, float_format=lambda v: f"{v:+.3f}"))


if __name__ == "__main__":
    main()
