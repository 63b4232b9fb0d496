"""`mifidelity serve` and `mifidelity audit`: parse and print; the portal is :mod:`mifidelity.portal`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from mifidelity.cli.common import fail, load_settings
from mifidelity.errors import MifidelityError


def serve(
    out: Path = typer.Argument(..., help="The output folder that process, code and watch write."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (keep 127.0.0.1 behind a reverse proxy)."),
    port: int = typer.Option(8470, "--port", help="Port to listen on.", min=1, max=65535),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (its inbox.database_url names the database)."),
    trusted_proxy: str = typer.Option(
        "", "--trusted-proxy",
        help="Addresses whose X-Forwarded-For/-Proto are believed: the reverse proxy's (e.g. 127.0.0.1). "
             "Default: none, so no local process can choose the address the audit log and the login throttle see."),
) -> None:
    """Serve the reports to coaches and supervisors (log in with an account from `mifidelity users add`)."""
    import uvicorn

    from mifidelity.portal.app import create_app
    from mifidelity.portal.server import uvicorn_config

    settings = load_settings(config)
    if not out.is_dir():
        fail(f"output folder not found: {out}")
    try:
        app = create_app(out, settings)
    except MifidelityError as exc:
        fail(str(exc))
    if not app.state.portal.accounts.all():
        print("note: no accounts yet; add one with `mifidelity users add NAME --out OUT --role supervisor`",
              file=sys.stderr)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"serving {out.resolve()} on http://{host}:{port}/ ; Ctrl-C stops", file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn_config(app, host, port, trusted_proxy)).run()


def audit(
    out: Path = typer.Argument(..., help="The output folder the portal serves."),
    since: Optional[str] = typer.Option(None, "--since", help="Only events from this date (YYYY-MM-DD) or time on."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (its inbox.database_url)."),
) -> None:
    """Print the portal's audit trail: logins, failed logins, reports viewed, corrections, account changes."""
    from mifidelity.portal.admin import PortalAdmin
    from mifidelity.portal.audit import parse_since

    try:
        admin = PortalAdmin(out, load_settings(config))
        events = admin.events(parse_since(since))
    except MifidelityError as exc:
        fail(str(exc))
    print("time\taction\tuser\taddress\tsession\tdetail")
    for event in events:
        print(event.line())
    admin.close()
