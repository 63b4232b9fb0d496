"""Several machines on one: a Prefect server on loopback, a process work pool, workers that each claim to be a host.

A worker's host is the ``MIFIDELITY_HOST`` environment variable (what the ledger
writes in its claims), so "killing a machine" is killing every process that
carries that variable. The ffmpeg the pipeline calls can be made to hang for
chosen hosts, so that a recording stays claimed for as long as a test needs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from support import ROOT
from support.flows import wait_for

STUCK_PREFIX = "stuck-"
"""Hosts whose name starts with this never get past decoding (their ffmpeg hangs)."""


def spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A process in a session (and process group) of its own, logging to ``log``."""
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
    group_members_kill(process.pid)


def group_members(pgid: int) -> list[int]:
    """Live processes in process group ``pgid`` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def group_members_kill(pgid: int) -> None:
    for pid in group_members(pgid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_of_host(host: str) -> list[int]:
    """Every live process whose environment says MIFIDELITY_HOST=host (a simulated machine)."""
    marker = f"MIFIDELITY_HOST={host}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_host(host: str) -> int:
    """``kill -9`` every process of a simulated machine, until none is left; returns how many were killed."""
    killed = set()
    while pids := processes_of_host(host):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        wait_for(lambda: False, timeout=0.1, step=0.05)
    return len(killed)


def write_wrapped_tools(folder: Path, before_ffmpeg: str) -> Path:
    """An ffmpeg that runs the shell line ``before_ffmpeg`` and then the real one, with ffprobe beside it
    (the pipeline expects both in one folder). Returns the ffmpeg."""
    real_ffmpeg, real_ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    assert real_ffmpeg and real_ffprobe
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ffmpeg").write_text(f"#!/bin/sh\n{before_ffmpeg}\nexec '{real_ffmpeg}' \"$@\"\n")
    (folder / "ffprobe").write_text(f'#!/bin/sh\nexec \'{real_ffprobe}\' "$@"\n')
    for tool in ("ffmpeg", "ffprobe"):
        (folder / tool).chmod(0o755)
    return folder / "ffmpeg"


def write_tools_stuck_on_some_hosts(folder: Path) -> Path:
    """ffmpeg that hangs on hosts named ``stuck-*`` and is the real one elsewhere; ffprobe beside it. Returns ffmpeg."""
    return write_wrapped_tools(folder, f'case "$MIFIDELITY_HOST" in {STUCK_PREFIX}*) exec sleep 600;; esac')


def ledger_rows(out: Path) -> list:
    """The rows of OUT's SQLite ledger; [] before a watcher has made it."""
    from mifidelity.service.ledger import Ledger, default_database_url

    if not (out / ".ledger.sqlite").exists():
        return []
    ledger = Ledger(default_database_url(out))
    try:
        return ledger.all()
    finally:
        ledger.close()


class PrefectOnLoopback:
    """A Prefect server (SQLite) on 127.0.0.1 with a process work pool ``mifidelity``; workers are added per host."""

    def __init__(self, state: Path):
        from mifidelity.service.prefect_server import free_port

        self.state, self.port = state, free_port()
        state.mkdir(parents=True, exist_ok=True)
        base = {**os.environ, "PREFECT_HOME": str(state), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_UI_ENABLED": "false", "PYTHONUNBUFFERED": "1",
                "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{state / 'server.db'}"}
        base.pop("PREFECT_API_URL", None)
        base.pop("MIFIDELITY_HOST", None)
        self.server_env = base
        self.client_env = {**base, "PREFECT_API_URL": f"http://127.0.0.1:{self.port}/api",
                           "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_WORKER_QUERY_SECONDS": "1"}
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        import httpx

        self.processes.append(spawn([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                     "--port", str(self.port), "--no-ui"], self.server_env, self.state / "server.log"))

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(healthy, timeout=120), (self.state / "server.log").read_text()[-3000:]
        self.run([sys.executable, "-m", "prefect", "work-pool", "create", "mifidelity", "--type", "process"])

    def run(self, command: list[str]) -> str:
        done = subprocess.run(command, env=self.client_env, capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout

    def deploy(self, inbox: Path, out: Path, config: Path, name: str) -> None:
        self.run([sys.executable, "-m", "mifidelity.cli", "watch-deploy", str(inbox), "--out", str(out),
                  "--pool", "mifidelity", "--interval", "2", "--config", str(config), "--name", name])

    def worker(self, host: str) -> subprocess.Popen:
        """A worker of the pool on simulated machine ``host`` (named uniquely: host and a counter), started as
        docs/deploy.md says: ``python -m mifidelity.service.worker`` with `prefect worker start`'s options."""
        name = f"{host}-{len(self.processes)}"
        process = spawn([sys.executable, "-m", "mifidelity.service.worker", "--pool", "mifidelity", "--name", name,
                         "--type", "process", "--limit", "1"], {**self.client_env, "MIFIDELITY_HOST": host},
                        self.state / f"worker-{host}.log")
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "".join(log.read_text(errors="replace")[-2500:] for log in sorted(self.state.glob("worker-*.log")))

    def stop_workers(self) -> None:
        """SIGTERM every worker (the server stays up, so their runs can report how they ended)."""
        for process in reversed(self.processes[1:]):
            stop_group(process)

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop_group(process)

    def flow_run_states(self, ids: list[str]) -> dict[str, str]:
        """State type (COMPLETED, CRASHED, RUNNING, ...) of each flow run, and of the flow runs nested in it."""
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.client_env["PREFECT_API_URL"]}):
            with get_client(sync_client=True) as client:
                states = {i: client.read_flow_run(i).state.type.value for i in ids}
                nested = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=ids)))
                states.update({str(f.id): f.state.type.value for f in nested})
        return states

    def state_message(self, flow_run_id: str) -> str:
        """The message of a flow run's current state (who recorded it, and why)."""
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.client_env["PREFECT_API_URL"]}):
            with get_client(sync_client=True) as client:
                return client.read_flow_run(flow_run_id).state.message or ""

    def log_messages(self, flow_run_id: str) -> list[str]:
        """The messages a flow run logged to the Prefect server."""
        from prefect import get_client
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.client_env["PREFECT_API_URL"]}):
            with get_client(sync_client=True) as client:
                return [log.message for log in client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))]

    def all_runs(self) -> list[tuple[str, str, str, bool]]:
        """Every flow run and task run: (kind, id, state type, whether it started)."""
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.client_env["PREFECT_API_URL"]}):
            with get_client(sync_client=True) as client:
                flow_runs, task_runs = [], []
                for found, read in ((flow_runs, client.read_flow_runs), (task_runs, client.read_task_runs)):
                    while page := read(limit=200, offset=len(found)):  # the API's page size is at most 200
                        found.extend(page)
        return ([("flow", str(r.id), r.state.type.value, r.start_time is not None) for r in flow_runs]
                + [("task", str(r.id), r.state.type.value, r.start_time is not None) for r in task_runs])
