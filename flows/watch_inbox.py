"""Prefect flow `watch-inbox`: process every recording dropped in a folder, once.

The run itself (scan, ledger, claims, moving originals) is
:mod:`mifidelity.service.inbox_run`, plain Python. This flow gives it a
``submit`` that runs each claimed recording as a Prefect task, which Prefect
retries on transient errors (``inbox.retry_delays``); the task calls the
`process-recording` flow. `mifidelity watch` serves this flow as a deployment
with an interval schedule.

Stopping (SIGTERM reaches the flow-run process: Prefect raises it in the flow)
gives the run's claims back and ends the process within seconds, even though
the task thread processing a recording cannot be interrupted; the stopped run
records itself Crashed. Runs of a worker that was killed outright are marked
Crashed by the scan that takes their claims back.

Logs name files, session ids and statuses; never transcript text.
"""

import multiprocessing
import os
import sys
import threading
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run

from mifidelity.config import PipelineConfig, load_config
from mifidelity.service.inbox import check_complete
from mifidelity.service.inbox_run import attempt_recording, is_transient, prepare_folders, run_inbox
from mifidelity.service.ledger import LedgerEntry, host_id
from mifidelity.service.prefect_server import mark_runs_crashed

EXIT_AFTER_STOP_SECONDS = 3.0
"""After a stop, the longest the process waits for its logs to reach Prefect before it ends."""
STOPPED_MESSAGE = "stopped (SIGTERM or Ctrl-C); its recordings are queued again for the next scan"


@task(name="process-inbox-recording", cache_policy=NO_CACHE, persist_result=False)
def process_inbox_recording(sha256: str, inbox: str, out_dir: str, config: PipelineConfig) -> str:
    """One try at one claimed recording (Prefect retries this on transient errors)."""
    from mifidelity_flows.process_recording import process_recording

    def process(path: Path, entry: LedgerEntry) -> str:
        check_complete(path, config.audio.ffmpeg)
        return process_recording(str(path), out_dir, config, coach=entry.coach, session_id=entry.session_id)

    return attempt_recording(sha256, Path(inbox), Path(out_dir), config, process)


def _exception_of(state) -> BaseException | None:
    if isinstance(state.data, BaseException):
        return state.data
    try:
        value = state.result(raise_on_failure=False)
    except BaseException as exc:  # noqa: BLE001 - we only classify it
        return exc
    return value if isinstance(value, BaseException) else None


def _should_retry(_task, _task_run, state) -> bool:
    """Prefect retry condition: transient errors only, and only while tries are left."""
    return is_transient(_exception_of(state))


class _TaskAttempt:
    """A submitted task, seen as the run's ``Attempt`` (``done()`` and ``result()``)."""

    def __init__(self, future) -> None:
        self.future = future

    def done(self) -> bool:
        return self.future.state.is_final()

    def result(self) -> str:
        return self.future.result()


def _process_of_its_own(run_id) -> bool:
    """Whether this process was started for this flow run (by a worker, or by `mifidelity watch`'s runner),
    rather than being, say, a test that called the flow: only then may a stop end the whole process."""
    return os.environ.get("PREFECT__FLOW_RUN_ID") == str(run_id) or multiprocessing.parent_process() is not None


def _mark_stopped(run_id) -> None:
    """Put this run (its task runs and nested runs too) in the final state Crashed.

    Prefect's engine does not record it: after the stop it waits for the task
    thread still processing a recording, which :func:`_exit_soon` cuts short; and
    the worker that would report the exit is itself stopped right after.
    """
    try:
        mark_runs_crashed([str(run_id)], STOPPED_MESSAGE)
    except Exception as exc:  # noqa: BLE001 - the claims are given back already; only the UI would lag
        get_run_logger().warning("could not record this run as stopped: %s", type(exc).__name__)


def _exit_soon(status: int) -> None:
    """End this process once its logs have reached Prefect (at most EXIT_AFTER_STOP_SECONDS from now),
    whatever task threads are still busy (their claims were given back).

    Python would otherwise wait at exit for the task thread processing a
    recording, which can take many minutes.
    """
    def send_logs_then_exit() -> None:
        try:
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=EXIT_AFTER_STOP_SECONDS)
        except Exception:  # noqa: BLE001 - the logs are also on the process's own output
            pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)

    for stop in (threading.Thread(target=send_logs_then_exit),
                 threading.Timer(EXIT_AFTER_STOP_SECONDS, os._exit, args=(status,))):
        stop.daemon = True
        stop.start()


@flow(name="watch-inbox", log_prints=False)
def watch_inbox(inbox: str, out_dir: str, config_path: str | None = None,
                config: PipelineConfig | None = None) -> dict:
    """Scan INBOX once, process what is ready, move originals to archive/ or failed/."""
    settings = config or load_config(config_path)
    inbox_path, out_path = prepare_folders(inbox, out_dir)
    runner = process_inbox_recording.with_options(
        retries=len(settings.inbox.retry_delays),
        retry_delay_seconds=list(settings.inbox.retry_delays) or 0,
        retry_condition_fn=_should_retry,
    )

    def submit(sha256: str) -> _TaskAttempt:
        return _TaskAttempt(runner.submit(sha256, str(inbox_path), str(out_path), settings))

    this_run = flow_run.get_id()

    def abandoned(entries: list[LedgerEntry]) -> None:
        dead = [e.flow_run_id for e in entries if e.flow_run_id and e.flow_run_id != this_run]
        if dead:
            crashed = mark_runs_crashed(dead, f"its worker stopped renewing its claim; the scan {this_run} on "
                                              f"{host_id()} took the recording back")
            get_run_logger().warning("marked %d run(s) of a dead worker Crashed", len(crashed))

    try:
        report = run_inbox(inbox_path, out_path, settings, submit, get_run_logger(), flow_run_id=this_run,
                           abandoned=abandoned)
    except (TerminationSignal, KeyboardInterrupt):  # SIGTERM or Ctrl-C: the claims were given back
        _mark_stopped(this_run)
        if _process_of_its_own(this_run):
            _exit_soon(143)
        raise
    summary = {k: len(v) for k, v in report.as_dict().items() if v}
    get_run_logger().info("inbox run finished: %s", summary or "nothing to do")
    return report.as_dict()
