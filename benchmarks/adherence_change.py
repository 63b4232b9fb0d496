"""Two adherence artifacts compared where a change of the adherence coder shows: numbers only, never text.

For each artifact (e.g. the shipped one and a candidate from ``python -m mifidelity.training.adherence
train --output NEW.npz``):

- the held-out spoken test (169 utterances, 7 codes), macro-F1 as written / without punctuation, the
  adherence coder alone and through the whole coder (behaviour codes, the rule and the plain-speech cues);
- HLQC's sessions coded as ``mifidelity code`` codes them, then the shipped session model: MI-adherent and
  MI-non-adherent codes, the bands of P(good MI) by the collection's high / low label, and between the two
  artifacts the largest and mean change of P(good MI) and the sessions whose band changed. The session model
  learnt from HLQC, so this says how far its inputs move, not how well it does on unseen sessions.

    PYTHONPATH=src .venv/bin/python benchmarks/adherence_change.py OLD.npz NEW.npz [--hlqc ../shared/data/hlqc]

Figures: docs/model-card-adherence.md ("Version 4").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mifidelity.coding.adherence import AdherenceCoder  # noqa: E402
from mifidelity.coding.base import ADHERENCE_COLUMN, MI_ADHERENT, MI_NON_ADHERENT  # noqa: E402
from mifidelity.coding.trained import TrainedCoder  # noqa: E402
from mifidelity.fidelity import estimate_fidelity, quality_band  # noqa: E402
from mifidelity.metrics import compute_metrics  # noqa: E402
from mifidelity.training.adherence import load_sources, spoken_test_scores, whole_coder_spoken_scores  # noqa: E402
from mifidelity.training.data import DEFAULT_DATA_DIR, DEFAULT_FORUM_DIR  # noqa: E402
from mifidelity.training.hlqc import DEFAULT_HLQC_DIR, coded_hlqc, load_hlqc  # noqa: E402


def hlqc_sessions(coder: TrainedCoder, hlqc_dir: str) -> pd.DataFrame:
    """Per HLQC session: its label, P(good MI) and band from the shipped session model, adherence counts."""
    labels = load_hlqc(hlqc_dir)
    high = dict(zip(labels["session"], labels["high"]))
    rows = []
    for session, table in coded_hlqc(hlqc_dir, coder=coder).items():
        estimate = estimate_fidelity(table, compute_metrics(table, None))
        probability = estimate.mi_quality_probability if estimate else None
        coach = table[table["role"] == "coach"][ADHERENCE_COLUMN]
        rows.append({"session": session, "high": high[session], "p": probability, "band": quality_band(probability),
                     "adherent": int(coach.isin(MI_ADHERENT).sum()), "non_adherent": int(coach.isin(MI_NON_ADHERENT).sum())})
    return pd.DataFrame(rows).set_index("session")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("artifacts", nargs=2, metavar="NPZ", help="the two adherence artifacts (old, new)")
    parser.add_argument("--hlqc", default=DEFAULT_HLQC_DIR, help="HLQC's folder (labels.csv, transcripts/)")
    parser.add_argument("--forum", default=DEFAULT_FORUM_DIR)
    parser.add_argument("--annomi", default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    sources = load_sources(args.forum, args.annomi)
    sessions = {}
    for path in args.artifacts:
        alone = spoken_test_scores(sources, AdherenceCoder(path).load())
        coder = TrainedCoder(adherence_path=path).load()
        whole = whole_coder_spoken_scores(sources, coder)
        print(f"{Path(path).name} ({coder.info.version}): spoken test alone {alone['clean'][0]:.3f} / {alone['asr'][0]:.3f}, "
              f"whole coder {whole['clean'][0]:.3f} / {whole['asr'][0]:.3f}; "
              f"F1 per code, whole coder, as written: {({k: round(v, 3) for k, v in whole['clean'][1].items()})}")
        table = sessions[path] = hlqc_sessions(coder, args.hlqc)
        print(f"  HLQC: MI-adherent {table['adherent'].sum()}, MI-non-adherent {table['non_adherent'].sum()}; "
              f"bands by label:\n{table.groupby(['high', 'band']).size().to_string()}")
    old, new = (sessions[path] for path in args.artifacts)
    change = (new["p"] - old["p"]).abs()
    print(f"P(good MI) change: largest {change.max():.3f}, mean {change.mean():.4f}; "
          f"sessions whose band changed: {int((old['band'] != new['band']).sum())} of {len(old)}")


if __name__ == "__main__":
    main()
