#!/usr/bin/env python3
"""The speed regression check a maintainer runs before a release (`make bench`; issue 26).

    python benchmarks/speed.py                                   # sessions of 10/30/60 min (rendered once)
    python benchmarks/speed.py --batch /tmp/heldout --transcripts /tmp/t30 --markdown docs/benchmarks-speed.md
    python benchmarks/speed.py --check                           # exit 1 if a target below is missed

Every figure comes from fresh processes, timed from the outside (start-up, model loading and Prefect
included), with the machine's load average beside it:

1. **ASR alone**: a process that loads the recogniser and transcribes the same files, one after the
   other, with the pipeline's model and decoding settings (decoding of the audio included), nothing else:
   as faster-whisper runs by default (one worker, CTranslate2's own thread count). It is the floor the
   pipeline is held to. Beside it, the same with the pipeline's recogniser workers (`asr.workers`: the
   pieces of a long recording transcribed two at a time), to show what the recogniser itself gained.
2. **The pipeline**: `mifidelity process` on the same files (each length in its own process; `--batch`
   as one batch), wall time, peak RSS of the process tree, seconds per stage from session.json
   (transcription and diarisation run at the same time: their columns overlap).
3. **Coding transcripts**: `mifidelity code` on `--transcripts` (utterances per second, end to end).

Targets (`--check`): pipeline >= 22x real time and <= 1.25x the wall time of ASR alone, peak RSS
<= 2.0 GB for one recording of up to 66 minutes (a batch runs two recordings at a time and holds more),
`code` >= 60 utterances/s. Speed targets live here, not in timed unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402
import sessions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"x_real_time": 22.0, "pipeline_over_asr": 1.25, "peak_rss_mb": 2048.0, "code_utterances_per_s": 60.0}
STAGE_COLUMNS = ("audio", "transcribe", "diarize", "transcribe + diarize", "align", "roles", "code", "write")


def asr_only(files: list[str], workers: int) -> None:
    """The `--asr-only` child: load the recogniser, decode and transcribe each file (the pipeline's settings;
    ``workers`` 1 with CTranslate2's own thread count is faster-whisper's default, 0 the pipeline's)."""
    from mifidelity.audio import load_recording
    from mifidelity.config import load_config
    from mifidelity.privacy import use_offline_environment
    from mifidelity.transcription import get_transcriber

    use_offline_environment()
    config = load_config(None)
    asr = config.asr if workers == 0 else config.asr.model_copy(update={"workers": workers, "cpu_threads": 0})
    transcriber = get_transcriber(asr).load()
    for path in files:
        transcriber.transcribe(load_recording(path, config.audio.sample_rate, config.audio.ffmpeg))


def timed_process(command: list[str]) -> dict:
    """Run ``command``; wall seconds, peak RSS of its process tree (MB), load average before and after."""
    load_before = measure.load_average()
    began = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    handle, peak, done = psutil.Process(child.pid), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], measure.tree_rss(handle))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = child.stderr.read()
    code = child.wait()
    wall = time.perf_counter() - began
    done.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({code}):\n{stderr[-2000:]}")
    return {"wall_s": wall, "peak_rss_mb": peak[0] / 2**20, "load": (load_before, measure.load_average())}


def audio_seconds(files: list[Path]) -> float:
    import soundfile

    return sum(soundfile.info(str(f)).duration for f in files)


def stage_seconds(out: Path) -> dict[str, float]:
    """Seconds per stage summed over the sessions in ``out`` (from each session.json)."""
    totals: dict[str, float] = {}
    for summary in out.glob("*/session.json"):
        for stage, seconds in json.loads(summary.read_text())["timings"].items():
            totals[stage] = totals.get(stage, 0.0) + seconds
    return totals


def measure_recordings(name: str, files: list[Path]) -> dict:
    """ASR alone, then the whole pipeline, on the same files."""
    seconds = audio_seconds(files)
    print(f"{name}: {len(files)} recording(s), {seconds / 60:.1f} min: ASR alone ...", flush=True)
    asr = timed_process([sys.executable, __file__, "--asr-workers", "1", "--asr-only", *map(str, files)])
    print(f"{name}: ASR alone, the pipeline's workers ...", flush=True)
    workers = timed_process([sys.executable, __file__, "--asr-workers", "0", "--asr-only", *map(str, files)])
    print(f"{name}: the pipeline ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="mifidelity-speed-") as out:
        run = timed_process([sys.executable, "-m", "mifidelity.cli", "process", *map(str, files), "--out", out])
        stages = stage_seconds(Path(out))
    row = {"name": name, "files": len(files), "audio_s": seconds, "asr_wall_s": asr["wall_s"],
           "asr_peak_rss_mb": asr["peak_rss_mb"], "asr_workers_wall_s": workers["wall_s"], "wall_s": run["wall_s"], "peak_rss_mb": run["peak_rss_mb"],
           "x_real_time": seconds / run["wall_s"], "pipeline_over_asr": run["wall_s"] / asr["wall_s"],
           "stages": stages, "load": (asr["load"][0], run["load"][1])}
    print(f"  {row['x_real_time']:.1f}x real time, {row['pipeline_over_asr']:.2f}x ASR alone, "
          f"peak {row['peak_rss_mb']:.0f} MB", flush=True)
    return row


def measure_code(transcripts: list[Path]) -> dict:
    import pandas as pd

    utterances = sum(len(pd.read_csv(t, keep_default_na=False)) for t in transcripts)
    print(f"code: {len(transcripts)} transcripts, {utterances} utterances ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="mifidelity-speed-") as out:
        run = timed_process([sys.executable, "-m", "mifidelity.cli", "code", *map(str, transcripts), "--out", out,
                             "--formats", "json,csv,html"])
        stages = stage_seconds(Path(out))
    row = {"transcripts": len(transcripts), "utterances": utterances, **run,
           "utterances_per_s": utterances / run["wall_s"], "code_stage_s": stages.get("code", 0.0)}
    print(f"  {row['utterances_per_s']:.0f} utterances/s end to end", flush=True)
    return row


def markdown(rows: list[dict], code: dict | None) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} at commit {commit.strip()}"
             + (" (with uncommitted changes)" if dirty else "")
             + f" by `python benchmarks/speed.py`; {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
             f"python {platform.python_version()}. `load` is the 1-minute load average before / after (2 cores: "
             "above 1 means something else shared the CPU).", "",
             "| session | audio min | ASR alone s | pipeline s | x real time | pipeline / ASR alone | peak RSS MB "
             "| ASR alone peak RSS MB | ASR alone, pipeline's workers s | pipeline / that | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['audio_s'] / 60:.1f} | {r['asr_wall_s']:.1f} | {r['wall_s']:.1f} | "
                     f"{r['x_real_time']:.1f} | {r['pipeline_over_asr']:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['asr_peak_rss_mb']:.0f} | {r['asr_workers_wall_s']:.1f} | "
                     f"{r['wall_s'] / r['asr_workers_wall_s']:.2f} | {r['load'][0]:.1f} / {r['load'][1]:.1f} |")
    lines += ["", "Seconds per stage (summed over the sessions of a row; transcription and diarisation run at the "
              "same time, `transcribe + diarize` is their joint wall time; start-up, report and overview are the "
              "rest of the wall time):", "",
              "| session | " + " | ".join(STAGE_COLUMNS) + " |", "|---|" + "---|" * len(STAGE_COLUMNS)]
    for r in rows:
        lines.append(f"| {r['name']} | " + " | ".join(f"{r['stages'].get(s, 0.0):.1f}" for s in STAGE_COLUMNS) + " |")
    if code:
        lines += ["", f"`mifidelity code` on {code['transcripts']} transcripts ({code['utterances']} utterances): "
                  f"{code['wall_s']:.1f} s end to end = **{code['utterances_per_s']:.0f} utterances/s** (the code "
                  f"stage itself {code['code_stage_s']:.1f} s), peak RSS {code['peak_rss_mb']:.0f} MB, load "
                  f"{code['load'][0]:.1f} / {code['load'][1]:.1f}."]
    return "\n".join(lines) + "\n"


def missed_targets(rows: list[dict], code: dict | None) -> list[str]:
    missed = []
    for r in rows:
        if r["x_real_time"] < TARGETS["x_real_time"]:
            missed.append(f"{r['name']}: {r['x_real_time']:.1f}x real time < {TARGETS['x_real_time']}")
        if r["pipeline_over_asr"] > TARGETS["pipeline_over_asr"]:
            missed.append(f"{r['name']}: {r['pipeline_over_asr']:.2f}x ASR alone > {TARGETS['pipeline_over_asr']}")
        if r["files"] == 1 and r["audio_s"] <= 66 * 60 + 1 and r["peak_rss_mb"] > TARGETS["peak_rss_mb"]:
            missed.append(f"{r['name']}: peak RSS {r['peak_rss_mb']:.0f} MB > {TARGETS['peak_rss_mb']:.0f}")
    if code and code["utterances_per_s"] < TARGETS["code_utterances_per_s"]:
        missed.append(f"code: {code['utterances_per_s']:.0f} utterances/s < {TARGETS['code_utterances_per_s']}")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asr-only", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--asr-workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--annomi", type=Path, default=sessions.DEFAULT_ANNOMI)
    parser.add_argument("--work", type=Path, default=Path("/tmp/mifidelity-bench"), help="rendered sessions (cache)")
    parser.add_argument("--lengths", type=float, nargs="*", default=[10, 30, 60], help="session minutes to render")
    parser.add_argument("--batch", type=Path, help="a folder of recordings, run as one batch")
    parser.add_argument("--long", type=Path, help="one long recording (the memory target)")
    parser.add_argument("--transcripts", type=Path, help="a folder of transcript CSVs for `mifidelity code`")
    parser.add_argument("--markdown", type=Path, help="write the tables here")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if args.asr_only:
        asr_only(args.asr_only, args.asr_workers)
        return 0
    rows = []
    for minutes in args.lengths:
        recording = sessions.prepare(args.annomi, args.work, minutes, "clean", lambda m: print(f"  {m}", flush=True))
        rows.append(measure_recordings(f"{minutes:g} min", [recording]))
    if args.long:
        rows.append(measure_recordings(f"{args.long.name}", [args.long]))
    if args.batch:
        files = [p for p in sorted(args.batch.iterdir()) if p.suffix.lower() in (".wav", ".flac", ".mp3", ".m4a", ".ogg")]
        rows.append(measure_recordings(f"batch of {len(files)}", files))
    code = measure_code(sorted(args.transcripts.glob("*.csv"))) if args.transcripts else None
    text = markdown(rows, code)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    missed = missed_targets(rows, code)
    for line in missed:
        print(f"MISSED: {line}", file=sys.stderr)
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
