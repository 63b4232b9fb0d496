"""The `mifidelity` command line: argument parsing and progress display only."""

from __future__ import annotations

import logging
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Callable, List, Optional

import typer

from mifidelity.models_cli import models_app
from mifidelity.privacy import use_offline_environment
from mifidelity.watch_cli import watch, watch_deploy

app = typer.Typer(add_completion=False, no_args_is_help=True, help="MI fidelity reports from recorded coaching sessions.")
app.add_typer(models_app, name="models", help="List the engines and models on this machine; convert models.")


class AsrEngine(str, Enum):
    faster_whisper = "faster-whisper"
    openai_whisper = "openai-whisper"


class DiarizerEngine(str, Enum):
    auto = "auto"
    embedding = "embedding"
    channels = "channels"
    pyannote = "pyannote"


class TerminalProgress:
    """Renders the pipeline's progress hook as one line per recording and stage on stderr."""

    def __init__(self, label: str):
        self.label = label
        self.stage: str | None = None
        self.began = time.perf_counter()
        self.last_shown = -1.0
        self.interactive = sys.stderr.isatty()

    def __call__(self, stage: str, fraction: float) -> None:
        if stage != self.stage:
            self.stage, self.began, self.last_shown = stage, time.perf_counter(), -1.0
        # Show each stage's start and end, and in between at most every 10%.
        if fraction not in (0.0, 1.0) and fraction - self.last_shown < 0.1:
            return
        self.last_shown = fraction
        elapsed = time.perf_counter() - self.began
        line = f"{self.label}: {stage:<10} {fraction:4.0%}  {elapsed:6.1f} s"
        if self.interactive:
            end = "\n" if fraction >= 1.0 else ""
            print(f"\r{line}", end=end, file=sys.stderr, flush=True)
        elif fraction in (0.0, 1.0):
            print(line, file=sys.stderr, flush=True)


def _quiet_prefect(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.CRITICAL
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.server", "uvicorn", "httpx"):
        logging.getLogger(name).setLevel(level)


def _run_each(inputs: list[Path], run: Callable[[Path, TerminalProgress], str], out: Path) -> int:
    from mifidelity.errors import MifidelityError

    failures = 0
    for index, path in enumerate(inputs, start=1):
        progress = TerminalProgress(f"[{index}/{len(inputs)}] {path.name}")
        try:
            folder = run(path, progress)
            print(f"{path}: done -> {folder}", file=sys.stderr)
        except MifidelityError as exc:
            failures += 1
            print(f"{path}: failed: {exc}", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
            failures += 1
            print(f"{path}: failed: unexpected error ({type(exc).__name__}: {exc})", file=sys.stderr)
    print(f"{len(inputs) - failures} of {len(inputs)} succeeded; outputs in {out.resolve()}", file=sys.stderr)
    return 1 if failures else 0


def _load(config_path: Optional[Path]):
    from mifidelity.config import load_config
    from mifidelity.errors import MifidelityError

    try:
        return load_config(config_path)
    except MifidelityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2)


@app.command()
def process(
    inputs: List[Path] = typer.Argument(..., help="Recordings, or folders of recordings."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the session outputs."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
    coach: Optional[str] = typer.Option(None, "--coach", help="Coach's name for the report header."),
    asr_engine: Optional[AsrEngine] = typer.Option(None, "--asr-engine", help="Speech recogniser (default: config asr.engine)."),
    diarizer: Optional[DiarizerEngine] = typer.Option(None, "--diarizer", help="Diariser (default: config diarization.engine)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own logs."),
) -> None:
    """Transcribe, diarise, code and score recordings."""
    use_offline_environment()
    settings = _load(config)
    if asr_engine:
        settings = settings.model_copy(update={"asr": settings.asr.model_copy(update={"engine": asr_engine.value})})
    if diarizer:
        settings = settings.model_copy(
            update={"diarization": settings.diarization.model_copy(update={"engine": diarizer.value})})
    from mifidelity.audio import find_recordings

    recordings = find_recordings(inputs)
    if not recordings:
        print("error: no recordings found in the given paths", file=sys.stderr)
        raise typer.Exit(2)
    from mifidelity_flows.process_recording import process_recording, warm_start

    _quiet_prefect(verbose)
    warm_start(settings)
    status = _run_each(
        recordings,
        lambda path, progress: process_recording(str(path), str(out), settings, coach, progress),
        out,
    )
    raise typer.Exit(status)


@app.command()
def code(
    inputs: List[Path] = typer.Argument(..., help="Transcript CSVs with columns role and text (optional start, end)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the session outputs."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
    coach: Optional[str] = typer.Option(None, "--coach", help="Coach's name for the report header."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own logs."),
) -> None:
    """Code existing transcripts and score them."""
    use_offline_environment()
    settings = _load(config)
    from mifidelity_flows.process_recording import code_transcript, warm_start

    _quiet_prefect(verbose)
    warm_start(settings, transcript_only=True)
    raise typer.Exit(_run_each(
        list(inputs),
        lambda path, progress: code_transcript(str(path), str(out), settings, coach, progress),
        out,
    ))


app.command("watch")(watch)
app.command("watch-deploy")(watch_deploy)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
