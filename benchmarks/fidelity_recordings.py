"""Does the session verdict hold on recordings? AnnoMI transcripts rendered to speech, held out of training.

1. Picks held-out AnnoMI dev transcripts (``--low`` low-quality and ``--high`` high-quality,
   seeded) and fits the session-fidelity models (:mod:`mifidelity.training.fidelity`) on the
   *other* transcripts only, from out-of-fold codes (``--coder-oof``).
2. Renders each held-out transcript to speech (Piper coach, flite client, mono; the renderer of
   ``benchmarks/sessions.py``) and runs the real ``mifidelity process`` on them.
3. Estimates P(good MI) with the held-out-trained model from the pipeline's codes of each
   recording, and from the coder's codes of the transcript's own text, and prints both AUCs.

Usage::

    python benchmarks/fidelity_recordings.py --coder-oof OOF.npz --adherence-oof ADH.npz \
        --work /tmp/fidelity-rec [--annomi ../shared/data/annomi] [--low 5] [--high 10]

``--adherence-oof``: out-of-fold AnnoMI adherence probabilities, as
``python -m mifidelity.training.adherence evaluate --save-probabilities ADH.npz`` writes them
(five fine-tunings, ~20 minutes); without it the shipped adherence coder codes AnnoMI, as the
shipped session model was fitted.

Nothing from the corpus is written into the repository; renders are cached in ``--work``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import sessions as bench_sessions  # noqa: E402  (the benchmark renderer)

from mifidelity.coding import get_coder  # noqa: E402
from mifidelity.config import CodingConfig  # noqa: E402
from mifidelity.fidelity import FidelityModel  # noqa: E402
from mifidelity.metrics import compute_metrics  # noqa: E402
from mifidelity.session import code_utterances  # noqa: E402
from mifidelity.training.data import load_annomi  # noqa: E402
from mifidelity.training.fidelity import SEED, fit_artifact, load_rows  # noqa: E402
from mifidelity.training.hlqc import DEFAULT_HLQC_DIR  # noqa: E402


def held_out_ids(data: pd.DataFrame, n_low: int, n_high: int, seed: int = SEED) -> list[int]:
    quality = data.groupby("transcript_id")["mi_quality"].first()
    rng = np.random.default_rng(seed)
    low = rng.choice(sorted(quality[quality == "low"].index), n_low, replace=False)
    high = rng.choice(sorted(quality[quality == "high"].index), n_high, replace=False)
    return sorted(int(t) for t in [*low, *high])


def fit_without(annomi: str, coder_oof: str, held_out: list[int], path: Path,
                adherence_oof: str | None = None, hlqc: str = DEFAULT_HLQC_DIR) -> FidelityModel:
    """The session models fitted on every session except ``held_out`` (and their HLQC twins), written to ``path``."""
    rows = load_rows(annomi, coder_oof, hlqc, adherence_oof)
    rows = rows[~rows["group"].isin(held_out)].reset_index(drop=True)
    spec = fit_artifact(rows, "stacked", "collection", FidelityModel().evidence_k)
    path.write_text(json.dumps(spec))
    return FidelityModel(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annomi", default=str(bench_sessions.DEFAULT_ANNOMI))
    parser.add_argument("--coder-oof", required=True)
    parser.add_argument("--adherence-oof", default=None, help="cached out-of-fold adherence probabilities (.npz)")
    parser.add_argument("--work", default="/tmp/mifidelity-fidelity-recordings")
    parser.add_argument("--low", type=int, default=5)
    parser.add_argument("--high", type=int, default=10)
    args = parser.parse_args(argv)
    work = Path(args.work)
    (work / "recordings").mkdir(parents=True, exist_ok=True)

    data = load_annomi(args.annomi)
    held_out = held_out_ids(data, args.low, args.high)
    print(f"held out: {held_out}", flush=True)
    model = fit_without(args.annomi, args.coder_oof, held_out, work / "fidelity-without-held-out.json",
                        args.adherence_oof)

    transcripts = bench_sessions.annomi_transcripts(Path(args.annomi))
    for tid in held_out:
        name = f"annomi{tid:03d}"
        if not (work / "recordings" / f"{name}.wav").exists():
            started = time.perf_counter()
            rendered = bench_sessions.render_transcript(transcripts[tid], tid, bench_sessions.VOICES["clean"], work / "turns")
            bench_sessions.write_variant(rendered, "clean", work / "recordings", name)
            print(f"rendered {name} ({len(rendered.channels) / bench_sessions.SR:.0f} s) in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    audio = sorted(str(p) for p in (work / "recordings").glob("annomi*.wav"))
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("mifidelity")), "process", *audio, "--out", str(work / "out")],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"pipeline: {time.perf_counter() - started:.0f} s for {len(audio)} recordings", flush=True)

    coder = get_coder(CodingConfig()).load()
    rows = []
    for tid in held_out:
        name = f"annomi{tid:03d}"
        recorded = pd.read_csv(work / "out" / name / "utterances.csv", keep_default_na=False, na_values=[""])
        recorded = recorded.astype(object).where(recorded.notna(), None)
        transcript = data[data["transcript_id"] == tid][["role", "text"]].assign(start=None, end=None, speaker=None)
        text_coded = code_utterances(transcript.reset_index(drop=True), coder)
        estimates = {source: model.estimate(table, compute_metrics(table))
                     for source, table in (("recording", recorded), ("text", text_coded))}
        rows.append({"transcript_id": tid, "high": data.loc[data["transcript_id"] == tid, "mi_quality"].iloc[0] == "high",
                     **{f"p_{source}": e.mi_quality_probability for source, e in estimates.items()},
                     **{f"relational_{source}": e.globals.relational for source, e in estimates.items()}})
    table = pd.DataFrame(rows)
    from sklearn.metrics import roc_auc_score

    print(table.round(3).to_string(index=False))
    for source in ("text", "recording"):
        print(f"AUC P(good MI) from the {source}: {roc_auc_score(table['high'], table[f'p_{source}']):.3f}")
    print(f"mean |P(recording) - P(text)|: {(table['p_recording'] - table['p_text']).abs().mean():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
