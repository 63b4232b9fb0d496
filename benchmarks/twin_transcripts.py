"""The same sessions, written down by another transcriber: do the session metrics and their intervals hold?

41 HLQC sessions are the same video as an AnnoMI transcript, transcribed again by another team:
ASR-style (lower case, no punctuation, recognition errors) and in long turns (one per speaker turn,
where AnnoMI splits a turn into utterances). ``python -m mifidelity.training.evaluate --hlqc-twins
CSV`` codes each of them as ``mifidelity code`` codes a transcript, with the fold model that never saw
its AnnoMI twin. This benchmark scores them against the experts' codes of the AnnoMI transcript,
beside the same 41 transcripts' own AnnoMI text coded out of fold (as written, "clean", and
lower-cased without punctuation, "asr"; ``--coder-oof``, from the same evaluate run):

- per metric (R:Q, % complex reflections, % open questions, % change talk) and text: sessions, the
  rank correlation of the counted value with the experts' (Spearman), the median absolute error of the
  counted and of the expected value, and how many 95% intervals (``report.intervals.bootstrap_intervals``
  with ``CODER_CALIBRATION``) contain the experts' value, with their median width, over all sessions and
  over those the scorecard rates (``MIN_BASIS`` or more in the denominator).

A transcript of a whole session is not always the whole session: the two teams may have started and
stopped at different points, so part of the HLQC rows' error is coverage, not coding. Prints numbers
only, never utterance text.

Usage::

    PYTHONPATH=src python benchmarks/twin_transcripts.py --twins TWINS.csv --coder-oof OOF.npz \
        [--annomi ../shared/data/annomi] [--rounds 2000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interval_coverage import METRICS, SHORT, interval_rows, load_sessions  # noqa: E402

from mifidelity.metrics import compute_metrics, expected_metrics  # noqa: E402
from mifidelity.report.intervals import BOOTSTRAP_ROUNDS  # noqa: E402
from mifidelity.report.scorecard import MIN_BASIS  # noqa: E402

TWIN_VERSION = "hlqc"


def twin_sessions(twins_csv: str | Path, experts: dict[int, dict]) -> list[dict]:
    """One entry per HLQC twin: its coded table (no text), the experts' values of its AnnoMI transcript, its own."""
    table = pd.read_csv(twins_csv, keep_default_na=False, na_values=[""])
    missing = {"session", "annomi_transcript", "role"} - set(table.columns)
    if missing:
        raise ValueError(f"{twins_csv}: not an evaluate --hlqc-twins file (missing {sorted(missing)})")
    table = table.astype(object).where(table.notna(), None)
    out = []
    for session, part in table.groupby("session", sort=True):
        coded = part.drop(columns=["session"]).reset_index(drop=True)
        transcript = int(coded["annomi_transcript"].iloc[0])
        out.append({"transcript_id": transcript, "version": TWIN_VERSION, "table": coded,
                    "expert": experts[transcript], "counted": compute_metrics(coded).as_dict(),
                    "expected": expected_metrics(coded)})
    return out


def agreement(sessions: list[dict]) -> pd.DataFrame:
    """Per text version and metric: Spearman of the counted value with the experts', median absolute errors."""
    from scipy.stats import spearmanr

    rows = []
    for version in dict.fromkeys(s["version"] for s in sessions):
        mine = [s for s in sessions if s["version"] == version]
        for metric in METRICS:
            pairs = pd.DataFrame([(s["expert"][metric], s["counted"][metric], (s["expected"] or {}).get(metric))
                                  for s in mine], columns=["expert", "counted", "expected"]).dropna(subset=["expert"])
            both = pairs.dropna(subset=["counted"])
            rows.append({"text": version, "metric": SHORT[metric], "sessions": len(both),
                         "Spearman": spearmanr(both["expert"], both["counted"]).statistic if len(both) > 2 else None,
                         "MAE counted": (both["counted"] - both["expert"]).abs().median(),
                         "MAE expected": (pairs["expected"].astype(float) - pairs["expert"]).abs().median()})
    return pd.DataFrame(rows)


def coverage(sessions: list[dict], rounds: int) -> pd.DataFrame:
    """Per text version and metric: intervals holding the experts' value, over all sessions and over those the
    scorecard rates (at least ``MIN_BASIS`` in the denominator; no interval counts as a miss)."""
    rows = interval_rows(sessions, "coder", rounds).assign(rated_covered=lambda t: t["covered"] & t["judged"])
    return (rows.groupby(["version", "metric"], sort=False)
            .agg(sessions=("covered", "size"), covered=("covered", "sum"), width=("width", "median"),
                 rated=("judged", "sum"), rated_covered=("rated_covered", "sum"))
            .reset_index().assign(metric=lambda t: t["metric"].map(SHORT),
                                  coverage=lambda t: (t["covered"] / t["sessions"]).round(3))
            .rename(columns={"version": "text", "width": "median width", "rated": f"rated (basis>={MIN_BASIS})",
                             "rated_covered": "rated, covered"}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--twins", required=True, metavar="CSV", help="evaluate --hlqc-twins output")
    parser.add_argument("--coder-oof", required=True, metavar="NPZ", help="evaluate --save-probabilities output (same run)")
    parser.add_argument("--annomi", default="../shared/data/annomi", help="AnnoMI folder (AnnoMI-full.dev.csv)")
    parser.add_argument("--rounds", type=int, default=BOOTSTRAP_ROUNDS, help="bootstrap rounds (default %(default)s)")
    args = parser.parse_args(argv)

    annomi, _ = load_sessions(args.annomi, args.coder_oof)
    experts = {s["transcript_id"]: s["expert"] for s in annomi}
    twins = twin_sessions(args.twins, experts)
    ids = {s["transcript_id"] for s in twins}
    sessions = [s for s in annomi if s["transcript_id"] in ids] + twins
    pd.set_option("display.width", 200)
    print(f"{len(twins)} HLQC twin sessions; the same {len(ids)} AnnoMI transcripts as written (clean), "
          f"without punctuation (asr), and as HLQC wrote them down (hlqc); all coded out of fold\n")
    print("Agreement with the experts' values (counted codes; MAE: median absolute error, R:Q in ratio units, "
          "the others in points):")
    print(agreement(sessions).round(3).to_string(index=False))
    print(f"\n95% intervals (coder's uncertainty and resampling, CODER_CALIBRATION; {args.rounds} rounds):")
    print(coverage(sessions, args.rounds).to_string(index=False))
    sizes = pd.DataFrame([(s["version"], int((s["table"]["role"] == "coach").sum())) for s in sessions],
                         columns=["text", "coach rows"]).groupby("text", sort=False)["coach rows"].median()
    print("\nMedian coach rows per session: " + ", ".join(f"{k} {v:g}" for k, v in sizes.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
