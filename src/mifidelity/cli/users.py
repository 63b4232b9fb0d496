"""`mifidelity users add|list|remove|passwd`: portal accounts (parse and print; see mifidelity.portal.admin)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from mifidelity.cli.common import fail, load_settings
from mifidelity.errors import MifidelityError

users_app = typer.Typer(add_completion=False, no_args_is_help=True)

OUT = typer.Option(..., "--out", "-o", help="The output folder the portal serves (its database holds the accounts).")
CONFIG = typer.Option(None, "--config", "-c", help="YAML config (its inbox.database_url).")
STDIN = typer.Option(False, "--password-stdin", help="Read the password from the first line of standard input.")


def _admin(out: Path, config: Optional[Path]):
    from mifidelity.portal.admin import PortalAdmin

    try:
        return PortalAdmin(out, load_settings(config))
    except MifidelityError as exc:
        fail(str(exc))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(name: str = typer.Argument(..., help="Account name; a coach's is exactly the coach's name (INBOX/<coach>/)."),
        out: Path = OUT,
        role: str = typer.Option(..., "--role", help="coach (sees their own sessions) or supervisor (sees all)."),
        password_stdin: bool = STDIN, config: Optional[Path] = CONFIG) -> None:
    """Add an account."""
    admin = _admin(out, config)
    try:
        account = admin.add_user(name, role, _password(password_stdin))
    except MifidelityError as exc:
        fail(str(exc))
    print(f"added {account.role.value} {account.name!r}")


@users_app.command("list")
def list_users(out: Path = OUT, config: Optional[Path] = CONFIG) -> None:
    """List the accounts."""
    for account in _admin(out, config).users():
        print(f"{account.name}\t{account.role.value}\tadded {account.created_at.astimezone():%Y-%m-%d}"
              f"\tpassword set {account.password_changed_at.astimezone():%Y-%m-%d}")


@users_app.command("remove")
def remove(name: str = typer.Argument(...), out: Path = OUT, config: Optional[Path] = CONFIG) -> None:
    """Remove an account and log out its browsers (its corrections and audit entries stay)."""
    try:
        _admin(out, config).remove_user(name)
    except MifidelityError as exc:
        fail(str(exc))
    print(f"removed {name!r}")


@users_app.command("passwd")
def passwd(name: str = typer.Argument(...), out: Path = OUT, password_stdin: bool = STDIN,
           config: Optional[Path] = CONFIG) -> None:
    """Set a new password (the account's browsers are logged out)."""
    admin = _admin(out, config)
    try:
        admin.set_password(name, _password(password_stdin))
    except MifidelityError as exc:
        fail(str(exc))
    print(f"password of {name!r} changed")
