"""What the `users`, `corrections` and `audit` commands do, each step audited as the OS user who ran it."""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

from mifidelity.config import PipelineConfig
from mifidelity.errors import MifidelityError
from mifidelity.portal.accounts import Account, Accounts
from mifidelity.portal.audit import Action, AuditEvent, AuditLog
from mifidelity.portal.corrections import ExportSummary, write_training_csv
from mifidelity.portal.tables import PortalStore, Role


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (a container)
        return "cli"


class PortalAdmin:
    """The portal's tables of one output folder, for the command line."""

    def __init__(self, out_dir: str | Path, config: PipelineConfig | None = None):
        out_dir = Path(out_dir)
        if not out_dir.is_dir():
            raise MifidelityError(f"output folder not found: {out_dir}")
        self.out_dir = out_dir
        self.store = PortalStore.for_out(out_dir, config)
        self.accounts = Accounts(self.store)
        self.audit = AuditLog(self.store)

    def close(self) -> None:
        self.store.close()

    def add_user(self, name: str, role: str, password: str) -> Account:
        account = self.accounts.add(name, role, password)
        self.audit.record(Action.USER_ADDED, _operator(), None, None, f"{account.name} ({account.role.value})")
        return account

    def remove_user(self, name: str) -> None:
        self.accounts.remove(name)
        self.audit.record(Action.USER_REMOVED, _operator(), None, None, name)

    def set_password(self, name: str, password: str) -> None:
        self.accounts.set_password(name, password)
        self.audit.record(Action.PASSWORD_CHANGED, _operator(), None, None, name)

    def users(self) -> list[Account]:
        return self.accounts.all()

    def export_corrections(self, path: str | Path) -> ExportSummary:
        summary = write_training_csv(self.store, self.out_dir, path)
        self.audit.record(Action.CORRECTIONS_EXPORTED, _operator(), None, None,
                          f"{summary.corrections} accepted corrections, {summary.rows} rows")
        return summary

    def events(self, since: datetime | None = None) -> list[AuditEvent]:
        return self.audit.events(since)


__all__ = ["PortalAdmin", "Role"]
