"""Child processes of the watcher and the worker: finding them, stopping flow runs before their supervisor.

Prefect runs each scan (flow run) in a child process. Stopped abruptly, a
scan cannot give its claims back; sent SIGTERM, it does so and ends within
seconds (flows/watch_inbox.py). So whoever supervises flow runs (`mifidelity
watch`, ``python -m mifidelity.service.worker``) passes SIGTERM to them first
and waits a little, before stopping itself. Linux only (reads /proc); elsewhere
nothing is found and the claims go stale instead.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable

FLOW_RUNS_GRACE_SECONDS = 7.0
"""How long flow runs get to give their claims back and end before they are killed."""


def children(pid: int) -> list[int]:
    """Live direct children of process ``pid`` (zombies excluded)."""
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def flow_run_processes(parent: int, keep: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """The children of ``parent`` that may be flow runs: not in ``keep`` (a local Prefect server) and not
    multiprocessing's resource tracker (a helper that ignores SIGTERM and ends by itself)."""
    found = []
    for pid in children(parent):
        if pid in keep:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.resource_tracker" not in command:
            found.append(pid)
    return found


def send(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def stop_flow_runs(flow_runs: list[int], parent: int, grace: float = FLOW_RUNS_GRACE_SECONDS) -> None:
    """SIGTERM each flow run process, wait up to ``grace`` s for them to end, then kill what is left.

    What a flow run left behind in its own process group (an ffmpeg decoding
    for nobody) is killed too.
    """
    groups = set()
    for pid in flow_runs:
        try:
            if os.getpgid(pid) == pid:  # a flow run in a process group of its own (Prefect's workers do that)
                groups.add(pid)
        except ProcessLookupError:
            continue
        send(pid, signal.SIGTERM)
    wait_until(lambda: not set(flow_runs) & set(children(parent)), grace)
    for pid in set(flow_runs) & set(children(parent)):
        send(pid, signal.SIGKILL)  # past the grace: its heartbeat stops, so its claim goes stale
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: this (child) process gets SIGTERM when its parent dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on Linux
        pass
