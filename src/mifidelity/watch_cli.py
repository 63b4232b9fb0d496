"""`mifidelity watch`: serve the `watch-inbox` flow as a Prefect deployment on an interval.

Mounted in `mifidelity.cli` (``app.command("watch")(watch)``); also runnable
on its own as ``python -m mifidelity.watch_cli INBOX --out OUT``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from mifidelity.privacy import use_offline_environment


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM when the watcher dies, even by SIGKILL."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on Linux
        pass


def _stop_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C so the local server is stopped cleanly."""
    import signal

    def _raise(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def _scheduler_problem() -> str | None:
    """Prefect 3.8.8's scheduler fails to insert scheduled runs with SQLAlchemy 2.1 (the local server would
    start but never schedule a scan)."""
    import sqlalchemy

    major, minor = (int(x) for x in sqlalchemy.__version__.split(".")[:2])
    if (major, minor) >= (2, 1):
        return (f"the local Prefect server cannot schedule scans with SQLAlchemy {sqlalchemy.__version__}; "
                "install 'sqlalchemy>=2.0,<2.1' in this environment")
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def local_prefect_server(state_dir: Path, timeout: float = 120.0):
    """A private Prefect server on loopback (its database in ``state_dir``, owner-only), for schedules.

    Prefect's ephemeral mode cannot run schedules, so `mifidelity watch` starts
    this unless PREFECT_API_URL points at a server already (several machines).
    """
    import httpx

    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    state_dir.chmod(0o700)
    port = _free_port()
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
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, preexec_fn=_die_with_parent,
    )
    url = f"http://127.0.0.1:{port}/api"
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
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def watch(
    inbox: Path = typer.Argument(..., help="Drop folder: INBOX/<coach>/<recording>; archive/ and failed/ are created in it."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the session outputs (and the ledger, by default)."),
    interval: Optional[float] = typer.Option(
        None, "--interval", help="Seconds between scans (default: config inbox.interval).", min=1),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
    name: str = typer.Option("inbox", "--name", help="Deployment name shown in Prefect."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own logs."),
) -> None:
    """Watch a folder: process each recording dropped in it once; keep running until stopped (Ctrl-C)."""
    use_offline_environment()
    from mifidelity.config import load_config
    from mifidelity.errors import MifidelityError

    try:
        settings = load_config(config)
    except MifidelityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2)
    if not inbox.is_dir():
        print(f"error: inbox folder not found: {inbox}", file=sys.stderr)
        raise typer.Exit(2)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    _stop_on_sigterm()
    every = interval or settings.inbox.interval
    if not verbose:
        for logger in ("prefect.server", "uvicorn", "httpx", "prefect.client"):
            logging.getLogger(logger).setLevel(logging.WARNING)

    from mifidelity_flows.watch_inbox import watch_inbox

    print(f"watching {inbox.resolve()} every {every:g} s; outputs in {out.resolve()}; Ctrl-C stops",
          file=sys.stderr, flush=True)
    if os.environ.get("PREFECT_API_URL"):
        _serve(watch_inbox, name, every, inbox, out, config, verbose)
        return
    problem = _scheduler_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        raise typer.Exit(2)
    with local_prefect_server(out / ".prefect") as url:
        os.environ["PREFECT_API_URL"] = url
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: url}):
            _serve(watch_inbox, name, every, inbox, out, config, verbose)


def _serve(watch_inbox, name: str, every: float, inbox: Path, out: Path, config: Optional[Path], verbose: bool):
    watch_inbox.serve(
        name=name,
        interval=every,
        parameters={
            "inbox": str(inbox.resolve()),
            "out_dir": str(out.resolve()),
            "config_path": str(config.resolve()) if config else None,
        },
        limit=1,  # one scan at a time; each scan bounds its own concurrency (inbox.max_concurrency)
        pause_on_shutdown=True,
        print_starting_message=verbose,
    )


def main() -> None:  # pragma: no cover - thin wrapper
    app = typer.Typer(add_completion=False)
    app.command("watch")(watch)
    app.command("watch-deploy")(watch_deploy)
    app()



def register_pool_deployment(inbox: str, out: str, pool: str, interval: float, config_path: str | None = None,
                             name: str = "inbox") -> str:
    """Create (or update) the `watch-inbox` deployment on a work pool of a shared Prefect server.

    Workers on every machine (``prefect worker start --pool POOL``) then run the
    scans; PREFECT_API_URL must point at the server. Returns the deployment id.
    """
    from prefect.deployments.runner import EntrypointType

    from mifidelity_flows.watch_inbox import watch_inbox

    deployment = watch_inbox.to_deployment(
        name=name,
        interval=interval,
        parameters={"inbox": inbox, "out_dir": out, "config_path": config_path},
        work_pool_name=pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return str(deployment.apply(work_pool_name=pool))


def watch_deploy(
    inbox: Path = typer.Argument(..., help="The inbox as every worker machine sees it (shared storage)."),
    out: Path = typer.Option(..., "--out", "-o", help="The output folder as every worker sees it."),
    pool: str = typer.Option("mifidelity", "--pool", help="Prefect work pool (type process)."),
    interval: float = typer.Option(30.0, "--interval", help="Seconds between scans.", min=1),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config, same path on every worker."),
    name: str = typer.Option("inbox", "--name", help="Deployment name."),
) -> None:
    """Several machines: put the inbox scan on a work pool of a shared Prefect server (see docs/deploy.md)."""
    use_offline_environment()
    if not os.environ.get("PREFECT_API_URL"):
        print("error: set PREFECT_API_URL to the shared Prefect server first", file=sys.stderr)
        raise typer.Exit(2)
    deployment_id = register_pool_deployment(str(inbox), str(out), pool, interval,
                                             str(config) if config else None, name)
    print(f"deployment watch-inbox/{name} ({deployment_id}) on work pool {pool!r}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    main()
