"""`mifidelity watch` and `mifidelity watch-deploy`: parse, check, print; the serving is in
:mod:`mifidelity.service.prefect_server`, the inbox run in :mod:`mifidelity.service.inbox_run`."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from mifidelity.cli.common import fail, load_settings
from mifidelity.errors import MifidelityError
from mifidelity.files import private_dir
from mifidelity.privacy import use_offline_environment
from mifidelity.service.ledger import HOST_ENV
from mifidelity.service.prefect_server import register_pool_deployment, serve_watch, stop_on_sigterm


def watch(
    inbox: Path = typer.Argument(..., help="Drop folder: INBOX/<coach>/<recording>; archive/ and failed/ are created in it."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the session outputs (and the ledger, by default)."),
    interval: Optional[float] = typer.Option(
        None, "--interval", help="Seconds between scans (default: config inbox.interval).", min=1),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (default: configs/default.yaml)."),
    name: str = typer.Option("inbox", "--name", help="Deployment name shown in Prefect."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own logs."),
    machine: Optional[str] = typer.Option(
        None, "--machine", help=f"This machine's name in the ledger's claims (default: ${HOST_ENV}, else the host name)."),
) -> None:
    """Watch a folder: process each recording dropped in it once; keep running until stopped (Ctrl-C)."""
    use_offline_environment()
    if machine:
        os.environ[HOST_ENV] = machine  # the flow runs (child processes) inherit it
    settings = load_settings(config)
    if not inbox.is_dir():
        fail(f"inbox folder not found: {inbox}")
    private_dir(out)
    stop_on_sigterm()
    every = interval or settings.inbox.interval
    if not verbose:
        for logger in ("prefect.server", "uvicorn", "httpx", "prefect.client"):
            logging.getLogger(logger).setLevel(logging.WARNING)

    from mifidelity_flows.watch_inbox import watch_inbox

    print(f"watching {inbox.resolve()} every {every:g} s; outputs in {out.resolve()}; Ctrl-C stops",
          file=sys.stderr, flush=True)
    try:
        serve_watch(watch_inbox, inbox, out, config, every, name, verbose)
    except MifidelityError as exc:
        fail(str(exc))


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
        fail("set PREFECT_API_URL to the shared Prefect server first")
    from mifidelity_flows.watch_inbox import watch_inbox

    deployment_id = register_pool_deployment(watch_inbox, str(inbox), str(out), pool, interval,
                                             str(config) if config else None, name)
    print(f"deployment watch-inbox/{name} ({deployment_id}) on work pool {pool!r}", file=sys.stderr)
