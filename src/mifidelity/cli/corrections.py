"""`mifidelity corrections export`: accepted feedback on codes as extra training data for the coder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from mifidelity.cli.common import fail, load_settings
from mifidelity.errors import MifidelityError

corrections_app = typer.Typer(add_completion=False, no_args_is_help=True)


@corrections_app.command("export")
def export(out: Path = typer.Argument(..., help="The output folder the portal serves."),
           to: Path = typer.Option(..., "--out", "-o", help="CSV to write (holds transcript text: owner-only)."),
           config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (its inbox.database_url).")) -> None:
    """Write the supervisor-accepted corrections in the coder's training format."""
    from mifidelity.portal.admin import PortalAdmin

    try:
        summary = PortalAdmin(out, load_settings(config)).export_corrections(to)
    except MifidelityError as exc:
        fail(str(exc))
    for reason in summary.skipped:
        print(f"skipped {reason}", file=sys.stderr)
    print(f"wrote {summary.rows} utterances ({summary.corrections} accepted corrections) to {to}")
