"""Split-channel recordings as call recorders make them: the channel diariser under bleed, gain and noise.

Two recordings, each with one person per channel:

* ``session3_smoking_stereo`` (the bundled sample session, synthetic voices);
* a call assembled from **real voices**: solo stretches (no one else speaking, at least 1 s)
  of one AMI speaker on the left channel and of a speaker from another AMI excerpt on the
  right, taking turns with 0.3 s pauses (``../shared/data/real-speech``, never copied into the
  repo). The reference is where each stretch was placed.

Each side is brought to a peak of -6 dBFS and stored as 16-bit samples, and scored as recorded
and in the conditions real recorders add: cross-talk bleed
(each channel carries the other at -16.5 dB, 2.5 ms late), one side recorded 20 dB quieter
or louder, hiss on one side (white noise 25 dB below that side's speaker), 50 Hz hum on one
side. Strict DER
(collar 0, overlap scored) with its parts, and whether ``diarization.engine: auto`` takes the
recording for split-channel.

Usage::

    PYTHONPATH=src python benchmarks/split_channel_der.py [--real-speech DIR] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diarization_der import DEFAULT_REAL_SPEECH, ROOT, load_audio, read_rttm, real_speech_pairs, score  # noqa: E402

SAMPLE = ROOT / "sample_audio" / "session3_smoking_stereo.m4a"
CONDITIONS = {
    "as recorded": {},
    "bleed": {"bleed": 0.15},
    "bleed, right side -20 dB": {"bleed": 0.15, "gain_right": 0.1},
    "bleed, right side +20 dB": {"bleed": 0.15, "gain_right": 10.0},
    "bleed, hiss on the right (25 dB below its speaker)": {"bleed": 0.15, "hiss_db": -25.0},
    "bleed, hum on the left": {"bleed": 0.15, "hum": 0.01},
    "bleed, right -20 dB, hiss 25 dB below": {"bleed": 0.15, "gain_right": 0.1, "hiss_db": -25.0},
}


def solo_stretches(ref, min_seconds: float = 1.0):
    """``{speaker: [(start, end), ...]}``: stretches where only that speaker talks."""
    bounds = sorted({t for seg in ref.itersegments() for t in (seg.start, seg.end)})
    runs: dict[str, list[tuple[float, float]]] = {}
    for a, b in zip(bounds[:-1], bounds[1:]):
        mid = 0.5 * (a + b)
        active = {label for seg, _, label in ref.itertracks(yield_label=True) if seg.start <= mid < seg.end}
        if len(active) != 1:
            continue
        (speaker,) = active
        spans = runs.setdefault(speaker, [])
        if spans and abs(spans[-1][1] - a) < 1e-6:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return {s: [(a, b) for a, b in spans if b - a >= min_seconds] for s, spans in runs.items()}


def real_voice_call(folder: str | Path, pause: float = 0.3):
    """A two-channel call from two AMI speakers of different excerpts, and its reference."""
    from pyannote.core import Annotation, Segment

    pairs = real_speech_pairs(folder)
    voices = []  # (excerpt name, speaker, samples of their solo stretches)
    for audio, rttm in pairs:
        mono, _ = load_audio(audio)
        stretches = solo_stretches(read_rttm(rttm))
        if not stretches:
            continue
        speaker = max(stretches, key=lambda s: sum(b - a for a, b in stretches[s]))
        clips = [mono[int(a * 16000):int(b * 16000)] for a, b in stretches[speaker]]
        if sum(len(c) for c in clips) >= 8 * 16000:
            voices.append((audio.stem, speaker, clips))
        if len(voices) == 2:
            break
    if len(voices) < 2:
        raise SystemExit(f"need two AMI excerpts with 8 s of solo speech in {folder}")
    channels = [[], []]
    reference = Annotation()
    t = 0.0
    turns = [(side, clip) for pair in zip(voices[0][2], voices[1][2]) for side, clip in enumerate(pair)]
    for side, clip in turns:
        silence = np.zeros(int(pause * 16000), np.float32)
        channels[side] += [silence, clip]
        channels[1 - side] += [silence, np.zeros(len(clip), np.float32)]
        t += pause
        reference[Segment(t, t + len(clip) / 16000)] = f"{voices[side][0]}:{voices[side][1]}"
        t += len(clip) / 16000
    return np.stack([np.concatenate(c) for c in channels]), reference


def condition(channels: np.ndarray, bleed: float = 0.0, gain_right: float = 1.0, hiss_db: float | None = None,
              hum: float = 0.0) -> np.ndarray:
    """``channels`` as a recorder would store them: each side peaking at -6 dBFS, then bleed, gain,
    hiss and hum, then 16-bit samples (so digital silence is never exactly zero)."""
    left, right = (c.astype(np.float64) * 0.5 / max(float(np.abs(c).max()), 1e-9) for c in channels)
    delay = 40  # 2.5 ms
    out = np.stack([left + bleed * np.roll(right, delay), (right + bleed * np.roll(left, delay)) * gain_right])
    if hiss_db is not None:  # relative to the right speaker's level (95th percentile of 20 ms RMS)
        frames = out[1][: len(out[1]) // 320 * 320].reshape(-1, 320)
        level = np.percentile(np.sqrt((frames ** 2).mean(axis=1)), 95)
        out[1] += np.random.default_rng(0).normal(0, level * 10 ** (hiss_db / 20), out.shape[1])
    if hum:
        out[0] += hum * np.sin(2 * np.pi * 50 * np.arange(out.shape[1]) / 16000)
    return (np.round(np.clip(out, -1, 1) * 32767) / 32767).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-speech", default=DEFAULT_REAL_SPEECH, help="folder of AMI excerpts + RTTMs")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)

    from mifidelity.config import DiarizationConfig
    from mifidelity.diarization import get_diarizer
    from mifidelity.diarization.channels import one_speaker_per_channel
    from mifidelity.types import Recording

    _, sample_channels = load_audio(SAMPLE)
    recordings = {"session3_smoking_stereo (synthetic voices)": (sample_channels, read_rttm(SAMPLE.with_suffix(".rttm")))}
    recordings["two AMI voices, one per channel (real)"] = real_voice_call(args.real_speech)
    diarizer = get_diarizer(DiarizationConfig(engine="channels"))
    lines = ["| recording | condition | auto takes it as split-channel | strict DER % | missed % | false alarm % "
             "| confusion % |", "|---|---|---|---|---|---|---|"]
    for name, (channels, reference) in recordings.items():
        for label, kwargs in CONDITIONS.items():
            mixed = condition(channels, **kwargs)
            recording = Recording(name, mixed.mean(axis=0), 16000, mixed, "0")
            strict = score(reference, diarizer.diarize(recording).turns, mixed.shape[1] / 16000)["strict"]
            lines.append(f"| {name} | {label} | {'yes' if one_speaker_per_channel(recording) else 'no'} | "
                         + " | ".join(f"{100 * strict[k]:.1f}" for k in ("DER", "missed", "false_alarm", "confusion"))
                         + " |")
            print(lines[-1], flush=True)
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
