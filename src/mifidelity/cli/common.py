"""What every `mifidelity` command shares: loading the config, one-line errors, progress, batches.

A user's mistake (a bad config, a missing folder) ends the command with one
line on stderr and exit status 2; a batch reports each input on its own line
and never lets one bad input stop the others.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, NoReturn, Optional

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


@contextmanager
def without_flow_heartbeats() -> Iterator[None]:
    """Flow runs started in this process inside the block send no Prefect flow-run heartbeats.

    The heartbeats let a Prefect server notice a deployment's run that died; a run the CLI starts
    in its own process reports its own end. Their thread sleeps in whole seconds and a flow run
    waits for it to wake before it ends: up to a second, about half a second per recording of a
    batch (issue 26). Served runs (`mifidelity watch`) keep them.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


class TerminalProgress:
    """Renders the pipeline's progress hook as one line per recording and stage on stderr.

    Stages may run at the same time (transcription and diarisation do, in two threads): each keeps
    its own clock, and a terminal line shows every stage still running.
    """

    def __init__(self, label: str):
        self.label = label
        self.began: dict[str, float] = {}
        self.last_shown: dict[str, float] = {}
        self.running: dict[str, str] = {}
        self.interactive = sys.stderr.isatty()
        self._lock = threading.Lock()

    def __call__(self, stage: str, fraction: float) -> None:
        with self._lock:
            if fraction == 0.0 or stage not in self.began:
                self.began[stage], self.last_shown[stage] = time.perf_counter(), -1.0
            # Show each stage's start and end, and in between at most every 10%.
            if fraction not in (0.0, 1.0) and fraction - self.last_shown[stage] < 0.1:
                return
            self.last_shown[stage] = fraction
            elapsed = time.perf_counter() - self.began[stage]
            line = f"{self.label}: {stage:<10} {fraction:4.0%}  {elapsed:6.1f} s"
            if not self.interactive:
                if fraction in (0.0, 1.0):
                    print(line, file=sys.stderr, flush=True)
                return
            self.running.pop(stage, None)
            if fraction >= 1.0:
                print(f"\r\033[K{line}", file=sys.stderr, flush=True)
            else:
                self.running[stage] = f"{stage} {fraction:4.0%} {elapsed:6.1f} s"
            if self.running:
                print(f"\r\033[K{self.label}: " + " | ".join(self.running.values()), end="", file=sys.stderr,
                      flush=True)


def run_each(inputs: list[Path], run: Callable[[Path, ProgressHook], str], out: Path, lanes: int = 1,
             minutes: Callable[[Path], float] = lambda path: 0.0) -> int:
    """Run ``run(path, progress)`` for each input, one line per outcome; the exit status (1 if any failed).

    With ``lanes`` > 1, that many inputs run at the same time while their ``minutes`` stay within
    :data:`~mifidelity.pipeline.lanes.LANE_BUDGET_MINUTES` (:func:`~mifidelity.pipeline.lanes.run_in_lanes`);
    the outcome lines come as inputs end.
    """
    from mifidelity.pipeline.lanes import LANE_BUDGET_MINUTES, run_in_lanes
    from mifidelity.pipeline.runs import failure_reason

    jobs = [(path, TerminalProgress(f"[{index}/{len(inputs)}] {path.name}"))
            for index, path in enumerate(inputs, start=1)]
    failures = 0
    for outcome in run_in_lanes(jobs, lambda job: run(*job), lanes, lambda job: minutes(job[0]),
                                LANE_BUDGET_MINUTES):
        failures += outcome.error is not None  # one bad input must not stop the others
        report_outcome(outcome.item[0], outcome.result, failure_reason(outcome.error))
    return report_batch(len(inputs), failures, out)


def batch_progress(inputs: list[Path]) -> list[ProgressHook]:
    """One progress line per input of a batch that runs in one go (``[3/30] name: stage ...``)."""
    return [TerminalProgress(f"[{index}/{len(inputs)}] {path.name}") for index, path in enumerate(inputs, start=1)]


def report_outcome(path: Path | str, folder: str | None, error: str | None) -> None:
    """The one line per input: where its session went, or why it failed."""
    print(f"{path}: done -> {folder}" if error is None else f"{path}: failed: {error}", file=sys.stderr)


def report_batch(total: int, failures: int, out: Path) -> int:
    """The batch's last line; the exit status (1 if any input failed)."""
    print(f"{total - failures} of {total} succeeded; outputs in {out.resolve()}", file=sys.stderr)
    return 1 if failures else 0
