"""Serving the inbox flow on a schedule: a private local Prefect server, or deployments on a shared one.

Prefect's ephemeral mode cannot run schedules, so `mifidelity watch` starts a
Prefect server of its own on loopback (its database owner-only, beside the
outputs) unless PREFECT_API_URL already points at one. With several machines,
`mifidelity watch-deploy` puts the flow on a work pool of a shared server
instead (docs/deploy.md).

The flow is passed in (the command line is the one place that wires the
library to ``mifidelity_flows``), so this module does not import it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mifidelity.errors import MifidelityError
from mifidelity.files import private_dir
from mifidelity.service.processes import die_with_parent, flow_run_processes, stop_flow_runs


def scheduler_problem() -> str | None:
    """Why the local Prefect server could not schedule scans, or None.

    Prefect 3.8.8's scheduler fails to insert scheduled runs with SQLAlchemy 2.1
    (the local server would start but never schedule a scan).
    """
    import sqlalchemy

    major, minor = (int(x) for x in sqlalchemy.__version__.split(".")[:2])
    if (major, minor) >= (2, 1):
        return (f"the local Prefect server cannot schedule scans with SQLAlchemy {sqlalchemy.__version__}; "
                "install 'sqlalchemy>=2.0,<2.1' in this environment")
    return None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_LOCAL_SERVERS: set[int] = set()  # pids of local Prefect servers, which must outlive the flow runs reporting to them


def stop_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, once the flow runs (child processes) have given their claims back and ended.

    Prefect's runner would otherwise wait for them, or kill them outright.
    """
    import signal

    def _stop(_signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut this short
        stop_flow_runs(flow_run_processes(os.getpid(), _LOCAL_SERVERS), os.getpid())
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)


@contextmanager
def local_prefect_server(state_dir: Path, timeout: float = 120.0) -> Iterator[str]:
    """A private Prefect server on loopback (its database in ``state_dir``, owner-only); yields its API URL.

    The server is stopped when the block ends, and (on Linux) when this process dies.
    """
    import httpx

    private_dir(state_dir)
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(state_dir),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{state_dir / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    log = open(state_dir / "server.log", "ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
         "--no-ui", "--analytics-off"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent,
    )
    url = f"http://127.0.0.1:{port}/api"
    _LOCAL_SERVERS.add(server.pid)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the local Prefect server stopped at start-up; see {state_dir / 'server.log'}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local Prefect server did not start in {timeout:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        _LOCAL_SERVERS.discard(server.pid)
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def serve_watch(flow, inbox: Path, out: Path, config_path: Path | None, interval: float, name: str = "inbox",
                verbose: bool = False) -> None:
    """Serve the `watch-inbox` ``flow`` as a deployment run every ``interval`` seconds, until stopped.

    Uses the server PREFECT_API_URL points at, else a :func:`local_prefect_server`
    in ``OUT/.prefect``. Raises MifidelityError when the local server could not
    schedule runs.
    """
    parameters = {
        "inbox": str(inbox.resolve()),
        "out_dir": str(out.resolve()),
        "config_path": str(config_path.resolve()) if config_path else None,
    }
    if os.environ.get("PREFECT_API_URL"):
        _serve(flow, name, interval, parameters, verbose)
        return
    problem = scheduler_problem()
    if problem:
        raise MifidelityError(problem)
    with local_prefect_server(out / ".prefect") as url:
        os.environ["PREFECT_API_URL"] = url
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: url}):
            _serve(flow, name, interval, parameters, verbose)


def _serve(flow, name: str, interval: float, parameters: dict, verbose: bool) -> None:
    """What ``flow.serve`` does, with a runner that lets its flow runs give their claims back when stopped."""
    import asyncio

    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    class ClaimReleasingRunner(Runner):
        """Prefect's runner answers SIGTERM by leaving its flow runs to be killed; SIGTERM them first."""

        def handle_sigterm(self, *args, **kwargs) -> None:
            stop_flow_runs(flow_run_processes(os.getpid(), _LOCAL_SERVERS), os.getpid())
            super().handle_sigterm(*args, **kwargs)

    # one scan at a time; each scan bounds its own concurrency (inbox.max_concurrency)
    runner = ClaimReleasingRunner(name=name, pause_on_shutdown=True, limit=1)
    runner.add_flow(flow, name=name, interval=interval, parameters=parameters)
    if verbose:
        print(f"serving {flow.name!r} as deployment {name!r}", file=sys.stderr, flush=True)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal):
        pass


def register_pool_deployment(flow, inbox: str, out: str, pool: str, interval: float, config_path: str | None = None,
                             name: str = "inbox") -> str:
    """Create (or update) the `watch-inbox` ``flow``'s deployment on a work pool of a shared Prefect server.

    Workers on every machine (``prefect worker start --pool POOL``) then run the
    scans; PREFECT_API_URL must point at the server. Returns the deployment id.
    """
    from prefect.deployments.runner import EntrypointType

    deployment = flow.to_deployment(
        name=name,
        interval=interval,
        parameters={"inbox": inbox, "out_dir": out, "config_path": config_path},
        work_pool_name=pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return str(deployment.apply(work_pool_name=pool))


def mark_runs_crashed(flow_run_ids: list[str], message: str) -> list[str]:
    """Put the Prefect runs of a dead worker in the final state Crashed; returns the ids of runs changed.

    A flow run whose process was killed (``kill -9``, a machine losing power)
    stays RUNNING in Prefect: nothing is left to report its end. The scan that
    takes its claims back calls this for the runs that held them: the flow run,
    its task runs and the flow runs nested in them (``process-recording``) that
    are not final yet become Crashed, so the UI shows no work that is not happening.
    """
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterId, FlowRunFilterParentTaskRunId, TaskRunFilter, TaskRunFilterFlowRunId,
    )
    from prefect.states import Crashed

    changed: list[str] = []
    with get_client(sync_client=True) as client:
        pending = list(dict.fromkeys(flow_run_ids))
        while pending:
            flow_runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=pending)))
            task_runs = client.read_task_runs(task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=pending)))
            for task_run in task_runs:
                if task_run.state is not None and not task_run.state.is_final():
                    client.set_task_run_state(task_run.id, Crashed(message=message), force=True)
            for flow_run in flow_runs:
                if flow_run.state is not None and not flow_run.state.is_final():
                    client.set_flow_run_state(flow_run.id, Crashed(message=message), force=True)
                    changed.append(str(flow_run.id))
            nested = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                parent_task_run_id=FlowRunFilterParentTaskRunId(any_=[t.id for t in task_runs]))) if task_runs else []
            pending = [str(f.id) for f in nested]
    return changed
