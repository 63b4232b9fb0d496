"""Measure the embedding diariser's error rate (DER) and speed.

By default it scores the two-speaker telephone excerpt that ships inside
pyannote.audio (``pyannote/audio/sample/sample.wav`` + ``sample.rttm``);
``--audio X --rttm Y`` scores any other pair (repeatable), ``--sample-audio``
adds the bundled coaching sessions that have a reference (sample_audio/*.rttm),
and ``--real-speech [DIR]`` scores every ``<name>.flac|wav`` + ``<name>.rttm``
pair in DIR (default ``../shared/data/real-speech``: 14 AMI meeting-room
excerpts of 30 s, never copied into the repo) and prints a markdown table.

Usage::

    PYTHONPATH=src python benchmarks/diarization_der.py
    PYTHONPATH=src python benchmarks/diarization_der.py --audio a.wav --rttm a.rttm --set switch_penalty=12
    PYTHONPATH=src python benchmarks/diarization_der.py --real-speech --sample-audio --markdown der.md
    PYTHONPATH=src python benchmarks/diarization_der.py --real-speech --no-sample --num-speakers auto

DER is reported twice: strict (collar 0, overlap scored) and lenient
(0.25 s collar around each reference boundary, overlapped speech skipped),
the NIST convention most papers quote. The table's missed / false alarm /
confusion columns are the strict DER's three parts (they add up to it);
"overlap" is the share of the reference speech (speaker-seconds) spoken while
someone else also speaks: a diariser that gives one label per moment misses
at least half of it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REAL_SPEECH = "../shared/data/real-speech"
# The two-person AMI excerpts kept out of every tuning decision (issue 18): the
# table reports them apart, as the test set.
TEST_EXCERPTS = ("ami-dev00", "ami-dev01", "ami-trn03")
AUDIO_SUFFIXES = (".flac", ".wav", ".mp3", ".ogg", ".m4a")


def pyannote_sample() -> tuple[Path, Path]:
    """Paths of the sample wav and rttm bundled with pyannote.audio."""
    import importlib.util

    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pyannote.audio is not installed: pass --audio and --rttm")
    folder = Path(list(spec.submodule_search_locations)[0]) / "sample"
    return folder / "sample.wav", folder / "sample.rttm"


def real_speech_pairs(folder: str | Path) -> list[tuple[Path, Path]]:
    """Every ``<name>.<audio>`` with a ``<name>.rttm`` beside it in ``folder``, by name.

    A relative ``folder`` that does not exist from the working directory is
    taken relative to the repository root (so the default works from anywhere).
    """
    folder = Path(folder)
    if not folder.is_dir() and not folder.is_absolute():
        folder = ROOT / folder
    if not folder.is_dir():
        raise SystemExit(f"real-speech folder not found: {folder}")
    pairs = []
    for audio in sorted(folder.iterdir()):
        rttm = audio.with_suffix(".rttm")
        if audio.suffix.lower() in AUDIO_SUFFIXES and rttm.is_file():
            pairs.append((audio, rttm))
    if not pairs:
        raise SystemExit(f"no audio + .rttm pairs in {folder}")
    return pairs


def sample_audio_pairs() -> list[tuple[Path, Path]]:
    """The bundled coaching sessions that have a reference RTTM."""
    folder = ROOT / "sample_audio"
    return [(a, a.with_suffix(".rttm")) for a in sorted(folder.iterdir())
            if a.suffix.lower() in AUDIO_SUFFIXES and a.with_suffix(".rttm").is_file()]


def load_audio(path: Path):
    """Mono mix and channels at 16 kHz: soundfile for wav/flac, ffmpeg for the rest."""
    if path.suffix.lower() in (".wav", ".flac"):
        return load_wav(path)
    from mifidelity.audio import load_recording

    rec = load_recording(path)
    return rec.samples, rec.channels


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
    for i, line in enumerate(Path(path).read_text().splitlines()):
        parts = line.split()
        if not parts or parts[0] != "SPEAKER":
            continue
        start, dur = float(parts[3]), float(parts[4])
        # One track per line: two speakers may share a segment exactly.
        ref[Segment(start, start + dur), i] = parts[7]
    return ref


def overlap_share(ref) -> float:
    """Share of the reference speech (speaker-seconds) spoken while another speaker also speaks."""
    bounds = sorted({t for seg in ref.itersegments() for t in (seg.start, seg.end)})
    total = overlapped = 0.0
    for a, b in zip(bounds[:-1], bounds[1:]):
        mid = 0.5 * (a + b)
        active = sum(1 for seg, _ in ref.itertracks() if seg.start <= mid < seg.end)
        total += active * (b - a)
        if active > 1:
            overlapped += active * (b - a)
    return overlapped / total if total else 0.0


def score(ref, turns, duration: float) -> dict:
    """Strict and lenient DER with their components (as fractions)."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    hyp = Annotation()
    for i, t in enumerate(turns):
        hyp[Segment(t.start, t.end), i] = t.speaker
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
            "reference_seconds": total,
        }
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def markdown_table(rows: list[dict], test: tuple[str, ...] = TEST_EXCERPTS) -> str:
    """Per-file rows, then the mean of each group (test excerpts, other real-speech excerpts)."""
    head = ("| excerpt | speakers (ref / found) | strict DER % | lenient DER % | missed % | false alarm % "
            "| confusion % | overlap % of ref | compute s |")
    lines = [head, "|" + "---|" * 9]

    def line(name, r):
        s = r["strict"]
        return (f"| {name} | {r['ref_speakers']} / {r['found_speakers']} | {_pct(s['DER'])} | "
                f"{_pct(r['lenient']['DER'])} | {_pct(s['missed'])} | {_pct(s['false_alarm'])} | "
                f"{_pct(s['confusion'])} | {_pct(r['overlap'])} | {r['seconds']:.1f} |")

    def mean(name, group):
        if not group:
            return None
        m = lambda f: float(np.mean([f(r) for r in group]))  # noqa: E731
        return (f"| **{name}** ({len(group)}) | | **{_pct(m(lambda r: r['strict']['DER']))}** | "
                f"{_pct(m(lambda r: r['lenient']['DER']))} | {_pct(m(lambda r: r['strict']['missed']))} | "
                f"{_pct(m(lambda r: r['strict']['false_alarm']))} | {_pct(m(lambda r: r['strict']['confusion']))} | "
                f"{_pct(m(lambda r: r['overlap']))} | {m(lambda r: r['seconds']):.1f} |")

    groups = {"test": [r for r in rows if r["name"] in test and r["kind"] == "real"],
              "tuning": [r for r in rows if r["name"] not in test and r["kind"] == "real"],
              "other": [r for r in rows if r["kind"] != "real"]}
    for key, title in (("test", "mean, test (two-person)"), ("tuning", "mean, tuning")):
        group = sorted(groups[key], key=lambda r: (r["ref_speakers"], r["name"]))
        lines += [line(r["name"], r) for r in group]
        if len(group) > 1:
            lines.append(mean(title, group))
    lines += [line(r["name"], r) for r in groups["other"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", action="append", default=[], help="audio file (repeat with --rttm)")
    parser.add_argument("--rttm", action="append", default=[], help="reference RTTM for the --audio before")
    parser.add_argument("--no-sample", action="store_true", help="skip the pyannote sample")
    parser.add_argument("--real-speech", nargs="?", const=DEFAULT_REAL_SPEECH, default=None, metavar="DIR",
                        help=f"score every audio + .rttm pair in DIR (default {DEFAULT_REAL_SPEECH}) "
                             "and print a markdown table")
    parser.add_argument("--sample-audio", action="store_true",
                        help="also score the bundled coaching sessions that have an .rttm (sample_audio/)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the markdown table to FILE")
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
        try:
            overrides[key] = json.loads(value) if value not in ("", None) else None
        except json.JSONDecodeError:
            overrides[key] = value  # a bare word, e.g. score_space=raw
    emb_cfg = EmbeddingDiarizerConfig(**overrides)
    num = None if args.num_speakers == "auto" else int(args.num_speakers)
    config = DiarizationConfig(num_speakers=num, embedding=emb_cfg)
    diarizer = EmbeddingDiarizer(config)

    pairs = [(a, r, "real") for a, r in real_speech_pairs(args.real_speech)] if args.real_speech else []
    pairs += [] if args.no_sample else [(*pyannote_sample(), "pyannote sample")]
    pairs += [(a, r, "sample_audio") for a, r in sample_audio_pairs()] if args.sample_audio else []
    pairs += [(Path(a), Path(r), "given") for a, r in zip(args.audio, args.rttm)]
    if not pairs:
        parser.error("nothing to score")

    # Warm the model caches so the real-time factor measures steady-state work.
    from mifidelity.diarization import speaker_encoder, vad

    noise = np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32)
    vad.speech_probabilities(noise)
    speaker_encoder.embed_windows(speaker_encoder.mel_frames(noise), np.array([0]), 150)

    rows = []
    for audio, rttm, kind in pairs:
        mono, channels = load_audio(audio)
        if kind == "sample_audio" and len(channels) > 1:
            continue  # split-channel: the pipeline gives it to the channel diariser, not this one
        rec = Recording(str(audio), mono, 16000, channels, "")
        t0 = time.perf_counter()
        result = diarizer.diarize(rec)
        elapsed = time.perf_counter() - t0
        ref = read_rttm(rttm)
        scores = score(ref, result.turns, rec.duration)
        rtf = elapsed / rec.duration
        rows.append({"name": audio.stem, "kind": kind, "ref_speakers": len(ref.labels()),
                     "found_speakers": len(result.speakers), "overlap": overlap_share(ref),
                     "seconds": elapsed, **scores})
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
    if args.real_speech or args.markdown:
        table = markdown_table(rows)
        label = "known (2)" if num == 2 else ("estimated (auto)" if num is None else f"known ({num})")
        table = f"Speaker count: {label}.\n\n" + table
        print()
        print(table)
        if args.markdown:
            Path(args.markdown).write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
