"""Does the session estimate hold beyond the collection it learnt from? Held-out groups, not held-out rows.

Runs every validation scheme of :mod:`mifidelity.coding.training.fidelity` (the session model
refitted in each split, nothing of the held-out group seen in training):

- pooled 5-fold by group over AnnoMI + HLQC (repeated);
- leave-one-collection-out (AnnoMI -> HLQC, HLQC -> AnnoMI);
- leave-one-topic-out on AnnoMI;
- clean text only in training, ASR-style text scored;

and prints, per held-out collection and text version: P(good MI) AUC, Brier against the base
rate, how often "most likely good" / "most likely poor" is right, low sessions told "likely good"
and high ones "likely poor", truncated sessions (first 4/8/16 coach volleys), reliability by
quintile, and the session R:Q against the R:Q counted from AnnoMI's expert codes (Spearman).
No utterance text is printed.

Usage::

    python benchmarks/fidelity_generalisation.py --coder-oof /tmp/oof/coder-oof.npz [--annomi DIR] [--hlqc DIR] \
        [--repeats 5] [--out docs/fidelity-generalisation.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mifidelity.coding.training.data import DEFAULT_DATA_DIR, load_annomi  # noqa: E402
from mifidelity.coding.training.fidelity import (  # noqa: E402
    REPEATS, choose_evidence_k, cross_validate, load_rows, with_evidence,
)
from mifidelity.coding.training.fidelity_report import reliability_table, summary_table  # noqa: E402
from mifidelity.coding.training.hlqc import DEFAULT_HLQC_DIR  # noqa: E402
from mifidelity.coding.training.session_data import coded_table  # noqa: E402
from mifidelity.metrics import compute_metrics  # noqa: E402

SCHEMES = ("pooled", "collection", "topic", "style")


def rq_agreement(rows: pd.DataFrame, annomi: str) -> str:
    """Spearman of the session R:Q (pipeline codes) against the R:Q from AnnoMI's expert codes, per version."""
    from scipy.stats import spearmanr

    data = load_annomi(annomi)
    expert = {}
    for transcript, index in data.groupby("transcript_id", sort=True).indices.items():
        expert[f"annomi-{transcript}"] = compute_metrics(coded_table(data.iloc[index], None, None)).reflection_to_question
    lines = []
    full = rows[~rows["truncated"] & (rows["collection"] == "annomi")]
    for version, part in full.groupby("version"):
        both = part.assign(expert=part["session"].map(expert))[["reflection_to_question", "expert"]].dropna()
        rho = spearmanr(both["reflection_to_question"], both["expert"]).statistic
        lines.append(f"- {version}: Spearman {rho:.3f} over {len(both)} AnnoMI transcripts")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", default=DEFAULT_DATA_DIR)
    parser.add_argument("--hlqc", default=DEFAULT_HLQC_DIR)
    parser.add_argument("--coder-oof", required=True, help="out-of-fold AnnoMI coder probabilities (.npz)")
    parser.add_argument("--adherence-oof", default=None, help="out-of-fold AnnoMI adherence probabilities (.npz)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--design", default="stacked")
    parser.add_argument("--balance", default="collection")
    parser.add_argument("--out", default=None, help="also write the tables here (markdown)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    started = time.perf_counter()
    rows = load_rows(args.annomi, args.coder_oof, args.hlqc, args.adherence_oof)
    predictions = pd.concat([cross_validate(rows, scheme, args.repeats, args.design, args.balance) for scheme in SCHEMES],
                            ignore_index=True)
    k = choose_evidence_k(predictions[predictions["scheme"] == "pooled"])
    predictions = with_evidence(predictions, k)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    text = "\n".join([
        f"Measured {dt.date.today()} at commit {commit} ({time.perf_counter() - started:.0f} s); design {args.design}, "
        f"balance {args.balance}, evidence constant k = {k:g}; pooled = {args.repeats} x 5-fold by group.",
        "", summary_table(predictions), "", "Reliability (held-out full sessions, quintiles of P):", "",
        reliability_table(predictions), "", "Session R:Q against the experts' R:Q (AnnoMI):", "",
        rq_agreement(rows, args.annomi)])
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
