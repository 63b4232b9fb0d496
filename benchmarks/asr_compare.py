"""Transcription stage alone: speed and WER of every Whisper model (both engines) this machine has.

    .venv/bin/python benchmarks/asr_compare.py                       # every available model, sample_audio/
    .venv/bin/python benchmarks/asr_compare.py /tmp/mifidelity-bench/sessions/annomi_10min_clean.wav \\
        --model openai-whisper:tiny.en --model faster-whisper:base

Each recording needs its reference beside it (``<name>.truth.csv`` with a ``text`` column,
or ``<name>.txt``). Without ``--model``, every ASR model that ``mifidelity models list``
reports as available is measured (aliases once), so a larger model put in the local cache
(``small.en``, ``medium.en``, ``large-v3``, ...) is picked up by itself.

Each model runs in its own process, with the pipeline's settings from
``configs/default.yaml`` (``asr`` section; faster-whisper int8, greedy, VAD, word
timestamps; openai-whisper fp32, greedy, word timestamps), one recording after another.
Reported per model: model load seconds, transcribe seconds (load excluded), x real time
(audio seconds / transcribe seconds), WER pooled over all recordings (jiwer, after
``mifidelity.training.pipeline_accuracy.normalise_words``) and per recording, peak RSS of the process, and
the 1-minute load average before/after (on a shared machine a load above the core count
means the model got less than the whole CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".flac"}


def reference_text(audio: Path) -> str:
    truth = audio.with_suffix(".truth.csv")
    if truth.is_file():
        import pandas as pd

        return " ".join(pd.read_csv(truth, keep_default_na=False)["text"])
    return audio.with_suffix(".txt").read_text(encoding="utf-8")


def recordings(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        found += sorted(p for p in path.iterdir() if p.suffix in AUDIO_SUFFIXES) if path.is_dir() else [path]
    return found


def available_models() -> list[tuple[str, str]]:
    """(engine, model) for every available ASR row of the model inventory, aliases left out."""
    from mifidelity.config import load_config
    from mifidelity.model_inventory import model_inventory

    return [(e.engine, e.model) for e in model_inventory(load_config(None))
            if e.stage == "asr" and e.available and "same model as" not in e.source]


def worker(engine: str, model: str, audio: list[Path]) -> dict:
    """Load one model and transcribe every recording, in this process."""
    from mifidelity.privacy import use_offline_environment

    use_offline_environment()
    from mifidelity.audio import load_recording
    from mifidelity.config import load_config
    from mifidelity.transcription import get_transcriber

    config = load_config(None).asr.model_copy(update={"engine": engine, "model": model})
    started = time.perf_counter()
    transcriber = get_transcriber(config).load()
    load_s = time.perf_counter() - started
    files = []
    for path in audio:
        recording = load_recording(path)
        started = time.perf_counter()
        transcript = transcriber.transcribe(recording)
        files.append({"file": path.name, "audio_s": recording.duration,
                      "transcribe_s": time.perf_counter() - started,
                      "hypothesis": " ".join(w.text for w in transcript.words)})
    return {"engine": engine, "model": model, "weights": transcriber.info.model, "load_s": load_s,
            "files": files, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(engine: str, model: str, audio: list[Path]) -> dict:
    """Run :func:`worker` in a fresh process (own peak RSS, nothing shared), with the load average around it."""
    load_before = os.getloadavg()[0]
    done = subprocess.run(
        [sys.executable, __file__, "--worker", f"{engine}:{model}", *map(str, audio)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    if done.returncode != 0:
        raise SystemExit(f"{engine} {model} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.splitlines()[-1])
    result["load_average"] = (load_before, os.getloadavg()[0])
    return result


def score(result: dict, audio: list[Path]) -> dict:
    import jiwer

    from mifidelity.training.pipeline_accuracy import normalise_words

    refs = [normalise_words(reference_text(p)) for p in audio]
    hyps = [normalise_words(f["hypothesis"]) or "<empty>" for f in result["files"]]
    result["wer"] = float(jiwer.wer(refs, hyps))  # pooled: all errors / all reference words
    result["wer_each"] = [float(jiwer.wer(r, h)) for r, h in zip(refs, hyps)]
    result["audio_s"] = sum(f["audio_s"] for f in result["files"])
    result["transcribe_s"] = sum(f["transcribe_s"] for f in result["files"])
    return result


def table(results: list[dict]) -> str:
    files = [f["file"] for f in results[0]["files"]]
    head = ["engine", "model (where from)", "load s", "transcribe s", "x real time", "WER (all)",
            *[f"WER {name}" for name in files], "peak RSS MB", "load avg before/after"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        row = [r["engine"], r["weights"], f"{r['load_s']:.1f}", f"{r['transcribe_s']:.1f}",
               f"{r['audio_s'] / r['transcribe_s']:.1f}", f"{r['wer']:.3f}",
               *[f"{w:.3f}" for w in r["wer_each"]], f"{r['peak_rss_mb']:.0f}",
               "{:.1f}/{:.1f}".format(*r["load_average"])]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "sample_audio"],
                        help="recordings or folders (default: sample_audio/)")
    parser.add_argument("--model", action="append", default=[], metavar="ENGINE:MODEL",
                        help="e.g. faster-whisper:small.en (repeatable; default: every available model)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    audio = recordings(args.paths)
    if args.worker:
        engine, model = args.worker.split(":", 1)
        print(json.dumps(worker(engine, model, audio)))
        return 0
    models = [tuple(m.split(":", 1)) for m in args.model] or available_models()
    print(f"{len(audio)} recordings; models: "
          + ", ".join(f"{e} {m}" for e, m in models), file=sys.stderr, flush=True)
    results = []
    for engine, model in models:
        result = score(measure(engine, model, audio), audio)
        results.append(result)
        print(f"{engine} {model}: {result['transcribe_s']:.1f} s, {result['audio_s'] / result['transcribe_s']:.1f}x RT, "
              f"WER {result['wer']:.3f}, load {result['load_average'][0]:.1f}/{result['load_average'][1]:.1f}",
              file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
