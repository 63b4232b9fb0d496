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
import time
from pathlib import Path

from mifidelity.service.prefect_server import die_with_parent

FLOW_RUNS_GRACE_SECONDS = 7.0
"""How long the flow runs get to give their claims back and end, before the worker is stopped regardless."""


def children(pid: int) -> list[int]:
    """Live direct children of process ``pid`` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_until(condition, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def stop_worker(worker: subprocess.Popen, grace: float = FLOW_RUNS_GRACE_SECONDS) -> int:
    """Stop the flow runs first (SIGTERM, up to ``grace`` seconds), then the worker; returns its exit status."""
    flow_runs = children(worker.pid)
    groups = set()
    for pid in flow_runs:
        try:
            if os.getpgid(pid) == pid:  # Prefect starts each flow run in a process group of its own
                groups.add(pid)
        except ProcessLookupError:
            pass
        _signal(pid, signal.SIGTERM)
    _wait_until(lambda: not set(flow_runs) & set(children(worker.pid)), grace)
    for pid in set(flow_runs) & set(children(worker.pid)):
        _signal(pid, signal.SIGKILL)  # past the grace: the heartbeat stops, the claim goes stale
    for group in groups:  # what the flow runs left running (an ffmpeg decoding for nobody)
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return worker.returncode


def main(argv: list[str] | None = None) -> int:
    # Its own session: a Ctrl-C in the terminal reaches this process only, not the worker (which would kill its
    # flow runs at once); and the worker is stopped if this process dies.
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
