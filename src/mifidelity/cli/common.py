"""What every `mifidelity` command shares: loading the config, one-line errors, progress, batches.

A user's mistake (a bad config, a missing folder) ends the command with one
line on stderr and exit status 2; a batch reports each input on its own line
and never lets one bad input stop the others.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Callable, NoReturn, Optional

import typer

from mifidelity.config import PipelineConfig, load_config
from mifidelity.errors import MifidelityError
from mifidelity.types import ProgressHook

def fail(message: str) -> NoReturn:
    """End the command: ``error: message`` on stderr, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def load_settings(config_path: Optional[Path]) -> PipelineConfig:
    """The pipeline config from ``config_path`` (default: configs/default.yaml); a bad one ends the command."""
    try:
        return load_config(config_path)
    except MifidelityError as exc:
        fail(str(exc))


def quiet_prefect(verbose: bool) -> None:
    """Silence Prefect's own logging unless ``--verbose``: the progress lines say what happens."""
    level = logging.INFO if verbose else logging.CRITICAL
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.server", "uvicorn", "httpx"):
        logging.getLogger(name).setLevel(level)


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


def run_each(inputs: list[Path], run: Callable[[Path, ProgressHook], str], out: Path) -> int:
    """Run ``run(path, progress)`` for each input, one line per outcome; the exit status (1 if any failed)."""
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
