#!/usr/bin/env python3
"""The benchmark: how fast and how right every stage is, and how cost grows with length.

    python benchmarks/run_benchmarks.py                       # everything (renders on first use)
    python benchmarks/run_benchmarks.py --lengths 10          # quick: 10-minute sessions only
    python benchmarks/run_benchmarks.py --annomi ../shared/data/annomi --work /tmp/mifidelity-bench

1. Renders two-person sessions of 10, 30 and 60 minutes from the AnnoMI dev
   transcripts with local text-to-speech (``benchmarks/sessions.py``, which uses
   ``sample_audio/make_samples.py``), plus harder variants at ``--variant-minutes``:
   same-gender voices, background noise, telephone band, overlapping back-channels,
   and a stereo copy for the channel diariser. Rendered audio is cached in
   ``--work`` (outside the repository), so re-runs do not render again.
2. Runs ``mifidelity process`` once per (recording, engine) in a fresh process:
   faster-whisper tiny.en (default) and base, plain openai-whisper on the same audio,
   and every diariser available offline; re-codes each run's utterances with every
   coder (trained, rules).
3. Records wall time, real-time speed and peak RSS per stage and accuracy
   (``benchmarks/measure.py``).
4. Writes ``docs/benchmarks.md``, ``docs/benchmarks.csv`` and
   ``docs/benchmarks_time_vs_length.png``.

Results of finished runs are kept in ``WORK/results.jsonl``; a re-run only runs
what is missing (``--rerun`` measures everything again). The machine's load
average is recorded with every timing, because other jobs distort them.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import measure  # noqa: E402
import sessions  # noqa: E402

STAGES = ("startup", "audio", "transcribe", "diarize", "align", "roles", "code", "write", "finish")


@dataclass(frozen=True)
class Run:
    minutes: float
    variant: str = "clean"
    asr_engine: str = "faster-whisper"
    model: str = "tiny.en"
    diarizer: str = "auto"
    skip: int = 0          # transcripts skipped (an unseen session)
    purpose: str = "length"

    @property
    def key(self) -> str:
        return (f"{self.minutes:g}min-{self.variant}-{self.asr_engine}-{self.model}-{self.diarizer}"
                + (f"-from{self.skip}" if self.skip else ""))


def plan(args) -> list[Run]:
    v = args.variant_minutes
    runs = [Run(m) for m in args.lengths if m <= v]
    for model in args.models:
        if model != "tiny.en":
            runs += [Run(m, model=model, purpose="engine") for m in args.lengths if m <= args.engine_max_minutes]
    for engine in args.compare_engines:
        for model in args.compare_models:
            runs += [Run(m, asr_engine=engine, model=model, purpose="engine")
                     for m in args.lengths if m <= args.engine_max_minutes]
    for variant in args.variants:
        if variant == "stereo":
            runs.append(Run(v, "stereo", purpose="variant"))   # auto picks the channel diariser
        elif variant != "clean":
            runs.append(Run(v, variant, purpose="variant"))
    if args.pyannote:
        runs.append(Run(v, diarizer="pyannote", purpose="engine"))
    runs += [Run(m) for m in sorted(args.lengths) if m > v]
    if args.unseen_minutes:
        runs.append(Run(args.unseen_minutes, skip=args.unseen_skip, purpose="unseen"))
    seen, unique = set(), []
    for run in runs:
        if run.key not in seen:
            seen.add(run.key)
            unique.append(run)
    return unique


def config_for(run: Run, work: Path) -> Path:
    config = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    config["asr"]["model"] = run.model
    path = work / "configs" / f"{run.model}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def execute(run: Run, args, coders: dict) -> dict:
    recording = sessions.prepare(args.annomi, args.work, run.minutes, run.variant,
                                 lambda m: print(f"  {m}", flush=True), run.skip)
    extra = ["--asr-engine", run.asr_engine, "--diarizer", run.diarizer]
    with tempfile.TemporaryDirectory(prefix="mifidelity-bench-") as out:
        measured = measure.run_cli(recording, Path(out), config_for(run, args.work), extra, env=prefect_env(args.work))
        row = {"key": run.key, "purpose": run.purpose, "minutes": run.minutes, "variant": run.variant,
               "asr_engine": run.asr_engine, "model": run.model, "diarizer": run.diarizer,
               "recording": recording.name, "returncode": measured["returncode"],
               "wall_s": measured["wall_s"], "peak_rss_mb": measured["peak_rss_mb"],
               "load_before": measured["load_before"], "load_after": measured["load_after"],
               "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        row.update({f"t_{k}": v for k, v in measured["stage_s"].items()})
        row.update({f"rss_{k}": v for k, v in measured["stage_rss_mb"].items()})
        # the diariser reports sub-stages (vad, embed, cluster, resegment): fold them into diarize
        subs = [k for k in measured["stage_s"] if k not in STAGES]
        row["diarize_substages"] = ",".join(subs)
        row["t_diarize"] = sum(measured["stage_s"].get(k, 0.0) for k in ["diarize", *subs])
        row["rss_diarize"] = max([measured["stage_rss_mb"].get(k, 0.0) for k in ["diarize", *subs]])
        if measured["returncode"] != 0:
            row["error"] = next((line for line in reversed(measured["stderr"]) if "failed" in line),
                                (measured["stderr"] or ["?"])[-1])
            return row
        session = measured["session"]
        row["duration_s"] = session["duration_seconds"]
        row["diarizer_used"] = session["models"].get("diarization", {}).get("engine")
        row.update({f"pipeline_{k}": v for k, v in session["timings"].items()})
        row.update(measure.accuracy(recording, measured["folder"], session, coders))
    return row


def prefect_env(work: Path) -> dict:
    """A Prefect home of the benchmark's own (like a user's ~/.prefect: kept between runs), so other
    Prefect users on the machine do not share its database; generous server start-up time under load."""
    home = work / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    return {"PREFECT_HOME": str(home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"}


def coder_ready(wait_s: float = 1800) -> bool:
    """Wait until the bundled trained coder loads (the tree may be mid-change, e.g. a coder being
    retrained); checked in a fresh process because the code on disk may change meanwhile."""
    check = ("from mifidelity.coding.trained import DEFAULT_ARTIFACT, _load_model; "
             "_load_model(DEFAULT_ARTIFACT)")
    deadline = time.monotonic() + wait_s
    while True:
        result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
        if result.returncode == 0:
            return True
        if time.monotonic() > deadline:
            return False
        reason = (result.stderr.strip().splitlines() or ["?"])[-1]
        print(f"the trained coder does not load ({reason}); waiting", flush=True)
        time.sleep(30)


def warm_up(args) -> None:
    """One unmeasured run on a few seconds of audio: creates the Prefect database and reads the
    models into the page cache, as any earlier use on a user's machine would have."""
    clip = args.work / "warmup.wav"
    if not clip.exists():
        recording = sessions.prepare(args.annomi, args.work, 10, "clean")
        import soundfile

        audio, rate = soundfile.read(str(recording), frames=16000 * 20)
        soundfile.write(str(clip), audio, rate)
    with tempfile.TemporaryDirectory(prefix="mifidelity-warmup-") as out:
        result = measure.run_cli(clip, Path(out), config_for(Run(10), args.work), env=prefect_env(args.work))
    print(f"warm-up run: {result['wall_s']:.1f} s (exit {result['returncode']})", flush=True)


def load_results(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    results = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            results[row["key"]] = row
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annomi", type=Path, default=sessions.DEFAULT_ANNOMI,
                        help="folder with AnnoMI-full.dev.csv (default ../shared/data/annomi)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mifidelity-bench"),
                        help="cache for rendered audio and results (outside the repository)")
    parser.add_argument("--lengths", type=float, nargs="+", default=[10, 30, 60], help="session minutes")
    parser.add_argument("--variant-minutes", type=float, default=10, help="length of the harder variants")
    parser.add_argument("--variants", nargs="*", default=list(sessions.VARIANTS), choices=sessions.VARIANTS)
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"], help="ASR models (bundled: tiny.en, base)")
    parser.add_argument("--compare-engines", nargs="*", default=["openai-whisper"],
                        help="other ASR engines run on the same audio as faster-whisper")
    parser.add_argument("--compare-models", nargs="+", default=["tiny.en"],
                        help="models run with the --compare-engines (openai-whisper base is slow)")
    parser.add_argument("--engine-max-minutes", type=float, default=10,
                        help="run non-default models/engines only on sessions up to this length")
    parser.add_argument("--pyannote", action=argparse.BooleanOptionalAction, default=False,
                        help="also try the pyannote diariser (reported as unavailable without its pipeline)")
    parser.add_argument("--unseen-minutes", type=float, default=13,
                        help="also run one session made of transcripts no other session uses (0 = skip)")
    parser.add_argument("--unseen-skip", type=int, default=60, help="transcripts skipped for the unseen session")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where benchmarks.md/.csv/.png go")
    parser.add_argument("--rerun", action="store_true", help="measure again even when a result exists")
    parser.add_argument("--only", nargs="*", help="run only these run keys (see --list)")
    parser.add_argument("--list", action="store_true", help="print the planned runs and exit")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report from WORK/results.jsonl")
    args = parser.parse_args(argv)

    for tool in ("ffmpeg", "sox", "flite"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    runs = plan(args)
    if args.list:
        print("\n".join(r.key for r in runs))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    results_path = args.work / "results.jsonl"
    results = load_results(results_path)
    if not args.report_only:
        from mifidelity.coding import get_coder
        from mifidelity.config import CodingConfig

        coders = {"rules": get_coder(CodingConfig(engine="rules"))}
        todo = [r for r in runs if (not args.only or r.key in args.only)
                and (args.rerun or results.get(r.key, {}).get("returncode") != 0)]
        if todo:
            warm_up(args)
        for run in runs:
            if args.only and run.key not in args.only:
                continue
            if run.key in results and not args.rerun and results[run.key].get("returncode") == 0:
                continue
            coder_ready()
            print(f"{run.key}: running (load {measure.load_average()})", flush=True)
            row = execute(run, args, coders)
            results[run.key] = row
            with open(results_path, "a") as handle:
                handle.write(json.dumps(row, default=str) + "\n")
            print(f"{run.key}: {row.get('wall_s', 0):.1f} s wall"
                  + (f", {row['duration_s'] / row['wall_s']:.1f}x real time, WER {row['wer']:.3f}"
                     if "wer" in row else f" ({row.get('error')})"), flush=True)
        coder_rows = coder_only(args, runs)
    else:
        coder_rows = json.loads((args.work / "coder_alone.json").read_text()) \
            if (args.work / "coder_alone.json").exists() else []
    import report

    planned = {r.key for r in runs}
    report.write(args.out, [row for key, row in results.items() if key in planned], coder_rows,
                 environment(), HERE / "profiling.md")
    print(f"wrote {args.out / 'benchmarks.md'}")
    return 0


def coder_only(args, runs: list[Run]) -> list[dict]:
    """Each coder on the true turns of each clean session (no ASR/diarisation errors)."""
    from mifidelity.coding import get_coder
    from mifidelity.config import CodingConfig

    path = args.work / "coder_alone.json"
    rows = []
    for minutes in sorted({r.minutes for r in runs if r.variant == "clean" and not r.skip}):
        recording = sessions.prepare(args.annomi, args.work, minutes, "clean")
        for engine in ("trained", "rules"):
            rows.append({"minutes": minutes, "coder": engine,
                         **measure.coder_alone(recording, get_coder(CodingConfig(engine=engine)))})
    path.write_text(json.dumps(rows))
    return rows


def environment() -> dict:
    import psutil

    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import mifidelity

    info["mifidelity code measured"] = str(Path(mifidelity.__file__).parent)
    for package in ("faster-whisper", "ctranslate2", "openai-whisper", "torch", "prefect"):
        try:
            from importlib.metadata import version

            info[package] = version(package)
        except Exception:  # noqa: BLE001
            pass
    return info


if __name__ == "__main__":
    sys.exit(main())
