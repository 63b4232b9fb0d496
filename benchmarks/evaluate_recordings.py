"""Accuracy and speed of the whole pipeline on recordings with ground truth.

Each recording ``X.<ext>`` needs ``X.truth.csv`` (start, end, role, text, codes)
beside it, and optionally ``X.rttm`` for the diarisation error rate. The
recordings go through the real ``mifidelity process`` command, one process
per recording, so the wall time includes everything a user waits for
(start-up, model loading, Prefect).

    python benchmarks/evaluate_recordings.py sample_audio
    python benchmarks/evaluate_recordings.py /tmp/heldout --config configs/default.yaml

Prints a Markdown table: duration, wall time, real-time factor (audio seconds
per wall second), WER, share of speech time with the right role, DER. A second
table compares the trained coder's codes with the truth codes (macro-F1 per
code): on the pipeline's own transcript (each utterance takes the codes of the
truth turn it overlaps most) and, for reference, on the truth transcript's text;
with the session's reflections per question from the truth codes, the counted
codes and the coder's summed probabilities.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from mifidelity.audio import find_recordings
from mifidelity.coding import get_coder
from mifidelity.config import CodingConfig
from mifidelity.metrics import compute_metrics, expected_metrics
from mifidelity.training.pipeline_accuracy import (code_agreement, code_truth_text, codes_by_overlap,
                                                   diarization_error_rate, read_rttm, role_time_accuracy,
                                                   word_error_rate)
from mifidelity.types import SpeakerTurn


def evaluate(recording: Path, out: Path, config: Path | None) -> dict:
    command = [sys.executable, "-m", "mifidelity.cli", "process", str(recording), "--out", str(out)]
    if config:
        command += ["--config", str(config)]
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if result.returncode != 0:
        return {"recording": recording.name, "error": result.stderr.strip().splitlines()[-1]}
    folder = out / recording.stem
    summary = json.loads((folder / "session.json").read_text())
    predicted = pd.read_csv(folder / "utterances.csv", keep_default_na=False)
    truth = pd.read_csv(recording.with_name(recording.stem + ".truth.csv"), keep_default_na=False)
    row = {
        "recording": recording.name,
        "duration_s": summary["duration_seconds"],
        "wall_s": round(wall, 1),
        "x_real_time": round(summary["duration_seconds"] / wall, 1),
        "wer": round(word_error_rate(" ".join(truth["text"]), " ".join(predicted["text"].astype(str))), 3),
        "role_accuracy": round(role_time_accuracy(truth, predicted), 3),
        "role_confidence": summary["roles"]["confidence"] if summary["roles"] else None,
        **{f"t_{stage}": round(seconds, 2) for stage, seconds in summary["timings"].items()},
    }
    rttm = recording.with_suffix(".rttm")
    if rttm.exists():
        turns = [SpeakerTurn(r.start, r.end, r.speaker) for r in predicted.itertuples()]
        row["der"] = round(diarization_error_rate(read_rttm(rttm), turns)["diarization error rate"], 3)
    return row


CODE_SHORT = {"main_behaviour": "main", "question": "question", "reflection": "reflection",
              "giving_information": "giving_info", "client_talk": "client_talk"}


def coder_agreement(recording: Path, out: Path, coder) -> list[dict]:
    """The coder against the truth codes: on the pipeline transcript and on the truth text."""
    folder = out / recording.stem
    if not (folder / "utterances.csv").exists():
        return []
    truth = pd.read_csv(recording.with_name(recording.stem + ".truth.csv"), keep_default_na=False)
    predicted = pd.read_csv(folder / "utterances.csv", keep_default_na=False).replace({"": None})
    truth_codes = codes_by_overlap(truth, truth)
    truth_rq = compute_metrics(truth_codes).reflection_to_question
    rows = []
    for transcript, coded, reference in (("pipeline", predicted, codes_by_overlap(predicted, truth)),
                                         ("truth text", code_truth_text(truth, coder), truth_codes)):
        weighted = expected_metrics(coded)
        rows.append({
            "recording": recording.name, "transcript": transcript,
            **{CODE_SHORT[c]: round(v["macro_f1"], 3) for c, v in code_agreement(reference, coded).items()},
            "R:Q truth": truth_rq,
            "R:Q coded": compute_metrics(coded).reflection_to_question,
            "R:Q weighted": None if weighted is None else weighted["reflection_to_question"],
        })
    return rows


def _print(table: pd.DataFrame) -> None:
    try:
        print(table.to_markdown(index=False))
    except ImportError:  # tabulate is optional
        print(table.to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="recordings or folders of recordings with truth")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mifidelity-eval-") as out:
        recordings = find_recordings(args.paths)
        rows = [evaluate(path, Path(out), args.config) for path in recordings]
        coder = get_coder(CodingConfig()).load()
        coding = [row for path in recordings for row in coder_agreement(path, Path(out), coder)]
    table = pd.DataFrame(rows)
    _print(table)
    if {"duration_s", "wall_s"} <= set(table.columns):
        total = table["duration_s"].sum() / table["wall_s"].sum()
        print(f"\noverall: {total:.1f}x real time over {table['duration_s'].sum():.0f} s of audio")
    if coding:
        print("\nTrained coder against the truth codes (macro-F1 over the labels present):\n")
        _print(pd.DataFrame(coding))
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
