"""A Prefect worker that stops within seconds and leaves no claim behind: ``python -m mifidelity.service.worker``.

Arguments are those of ``prefect worker start`` (``--pool``, ``--name``,
``--limit``...); the worker runs as a child of this process. Why not run
``prefect worker start`` directly: on SIGTERM it cancels its flow runs by
killing them outright (SIGKILL), so a scan that holds a claim cannot give it
back, and the recording waits for ``inbox.stale_after_minutes``. Here a SIGTERM
(or Ctrl-C) is first passed to each flow run, which gives its claims back and
ends within seconds (flows/watch_inbox.py); only then is the worker stopped.

Under systemd use ``KillMode=mixed``, so that SIGTERM goes to this process only
(docs/deploy.md). Linux only (it reads /proc).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from mifidelity.service.processes import die_with_parent, flow_run_processes, send, stop_flow_runs


def stop_worker(worker: subprocess.Popen) -> int:
    """Stop the flow runs first (SIGTERM, then a grace period), then the worker; returns its exit status.

    The worker keeps polling its work pool meanwhile and may start the next scheduled scan during the
    grace period; such a late flow run gets its SIGTERM together with the worker, and would outlive
    it. This process is their subreaper (:func:`adopt_orphans`), so whatever is left is found among
    its own children once the worker is gone, and stopped the same way.
    """
    stop_flow_runs(flow_run_processes(worker.pid), worker.pid)
    late = flow_run_processes(worker.pid)  # started during the grace period: told to stop with the worker
    for pid in late:
        send(pid, signal.SIGTERM)
    if worker.poll() is None:
        # Its flow runs have ended and reported: killed now, it cannot submit a scan it already fetched
        # (on SIGTERM Prefect's worker still starts those, and they hold claims past the stop).
        try:
            os.killpg(worker.pid, signal.SIGKILL)  # its own session: the CLI and its worker process
        except (ProcessLookupError, PermissionError):
            worker.kill()
        worker.wait()
    orphans = flow_run_processes(os.getpid())
    if orphans:
        stop_flow_runs(orphans, os.getpid())
    return worker.returncode


def adopt_orphans() -> None:
    """Linux: processes orphaned below this one (a flow run whose worker has exited) become its children."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    except Exception:  # noqa: BLE001 - best effort, not on Linux: a late flow run's claim goes stale instead
        pass


def main(argv: list[str] | None = None) -> int:
    # Its own session: a Ctrl-C in the terminal reaches this process only, not the worker (which would kill its
    # flow runs at once); and the worker is stopped if this process dies.
    adopt_orphans()
    worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", *(argv or sys.argv[1:])],
                              start_new_session=True, preexec_fn=die_with_parent)
    stopping = threading.Event()

    def _stop(_signum, _frame) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while worker.poll() is None:
        if stopping.wait(0.5):
            print("mifidelity worker: stopping; flow runs give their claims back first", file=sys.stderr, flush=True)
            return stop_worker(worker)
    return worker.returncode


if __name__ == "__main__":  # pragma: no cover - the command line
    sys.exit(main())
