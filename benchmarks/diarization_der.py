"""Measure the embedding diariser's error rate (DER) and speed.

By default it scores the two-speaker telephone excerpt that ships inside
pyannote.audio (``pyannote/audio/sample/sample.wav`` + ``sample.rttm``);
``--audio X --rttm Y`` scores any other pair (repeatable).

Usage::

    PYTHONPATH=src python benchmarks/diarization_der.py
    PYTHONPATH=src python benchmarks/diarization_der.py --audio a.wav --rttm a.rttm --set switch_penalty=12

DER is reported twice: strict (collar 0, overlap scored) and lenient
(0.25 s collar around each reference boundary, overlapped speech skipped),
the NIST convention most papers quote.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def pyannote_sample() -> tuple[Path, Path]:
    """Paths of the sample wav and rttm bundled with pyannote.audio."""
    import importlib.util

    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pyannote.audio is not installed: pass --audio and --rttm")
    folder = Path(list(spec.submodule_search_locations)[0]) / "sample"
    return folder / "sample.wav", folder / "sample.rttm"


def load_wav(path: Path):
    """Decode any audio file to 16 kHz float32 (mono mix and channels)."""
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    channels = data.T
    if rate != 16000:
        import librosa

        channels = np.stack([librosa.resample(c, orig_sr=rate, target_sr=16000) for c in channels])
    return channels.mean(axis=0).astype(np.float32), channels.astype(np.float32)


def read_rttm(path: Path):
    from pyannote.core import Annotation, Segment

    ref = Annotation()
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts or parts[0] != "SPEAKER":
            continue
        start, dur = float(parts[3]), float(parts[4])
        ref[Segment(start, start + dur)] = parts[7]
    return ref


def score(ref, turns, duration: float) -> dict:
    """Strict and lenient DER with their components (as fractions)."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    hyp = Annotation()
    for t in turns:
        hyp[Segment(t.start, t.end)] = t.speaker
    uem = Timeline([Segment(0.0, duration)])
    out = {}
    for name, kwargs in {"strict": dict(collar=0.0, skip_overlap=False),
                         "lenient": dict(collar=0.25, skip_overlap=True)}.items():
        metric = DiarizationErrorRate(**kwargs)
        c = metric(ref, hyp, uem=uem, detailed=True)
        total = c["total"]
        out[name] = {
            "DER": c["diarization error rate"],
            "confusion": c["confusion"] / total,
            "missed": c["missed detection"] / total,
            "false_alarm": c["false alarm"] / total,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", action="append", default=[], help="audio file (repeat with --rttm)")
    parser.add_argument("--rttm", action="append", default=[], help="reference RTTM for the --audio before")
    parser.add_argument("--no-sample", action="store_true", help="skip the pyannote sample")
    parser.add_argument("--num-speakers", default="2", help="known count, or 'auto' to estimate")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override an embedding-diariser config field, e.g. switch_penalty=12")
    parser.add_argument("--json", action="store_true", help="print one JSON line per file")
    args = parser.parse_args(argv)
    if len(args.audio) != len(args.rttm):
        parser.error("give one --rttm per --audio")

    from mifidelity.config import DiarizationConfig, EmbeddingDiarizerConfig
    from mifidelity.diarization.embedding import EmbeddingDiarizer
    from mifidelity.types import Recording

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value) if value not in ("", None) else None
    emb_cfg = EmbeddingDiarizerConfig(**overrides)
    num = None if args.num_speakers == "auto" else int(args.num_speakers)
    config = DiarizationConfig(num_speakers=num, embedding=emb_cfg)
    diarizer = EmbeddingDiarizer(config)

    pairs = [] if args.no_sample else [pyannote_sample()]
    pairs += [(Path(a), Path(r)) for a, r in zip(args.audio, args.rttm)]
    if not pairs:
        parser.error("nothing to score")

    # Warm the model caches so the real-time factor measures steady-state work.
    from mifidelity.diarization import speaker_encoder, vad

    noise = np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32)
    vad.speech_probabilities(noise)
    speaker_encoder.embed_windows(speaker_encoder.mel_frames(noise), np.array([0]), 150)

    for audio, rttm in pairs:
        mono, channels = load_wav(audio)
        rec = Recording(str(audio), mono, 16000, channels, "")
        t0 = time.perf_counter()
        result = diarizer.diarize(rec)
        elapsed = time.perf_counter() - t0
        scores = score(read_rttm(rttm), result.turns, rec.duration)
        rtf = elapsed / rec.duration
        if args.json:
            print(json.dumps({"file": str(audio), "rtf": rtf, "speakers": result.speakers, **scores}))
            continue
        print(f"{audio.name}: {rec.duration:.1f} s, {len(result.turns)} turns, "
              f"speakers {result.speakers}, {elapsed:.2f} s = RTF {rtf:.4f} ({1 / rtf:.0f}x real time)")
        for name, s in scores.items():
            label = "collar 0, overlap scored" if name == "strict" else "collar 0.25 s, overlap skipped"
            print(f"  DER {100 * s['DER']:5.1f}%  confusion {100 * s['confusion']:5.1f}%  "
                  f"missed {100 * s['missed']:5.1f}%  false alarm {100 * s['false_alarm']:5.1f}%  [{label}]")
        for note in result.notes:
            print(f"  note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
