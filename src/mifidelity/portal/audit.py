"""The audit trail: who logged in, failed to log in, viewed which report, changed what.

One row per event in ``portal_audit`` (the ledger's database). Events name users, addresses,
session ids, correction ids and code fields; never transcript text, and never a comment's text
(a comment may quote the client). `mifidelity audit OUT [--since DATE]` prints them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from enum import StrEnum

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mifidelity.errors import MifidelityError
from mifidelity.portal.tables import AuditRow, PortalStore, aware, utcnow

logger = logging.getLogger(__name__)


class Action(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login-failed"
    LOGIN_THROTTLED = "login-throttled"
    LOGOUT = "logout"
    VIEW_OVERVIEW = "view-overview"
    VIEW_REPORT = "view-report"
    PLAY_RECORDING = "play-recording"
    CORRECTION_PROPOSED = "correction-proposed"
    CORRECTION_ACCEPTED = "correction-accepted"
    CORRECTION_REJECTED = "correction-rejected"
    USER_ADDED = "user-added"
    USER_REMOVED = "user-removed"
    PASSWORD_CHANGED = "password-changed"
    CORRECTIONS_EXPORTED = "corrections-exported"


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    action: Action
    username: str | None
    address: str | None
    session_id: str | None
    detail: str

    def line(self) -> str:
        """One printable line (tab-separated: time, action, user, address, session, detail)."""
        cells = [self.at.astimezone().isoformat(timespec="seconds"), self.action.value, self.username or "-",
                 self.address or "-", self.session_id or "-", self.detail or ""]
        return "\t".join(_printable(c) for c in cells).rstrip()


def _printable(text: str) -> str:
    # A name typed into the login form is attacker-controlled: no terminal escapes or line breaks in the output.
    return "".join(c if c.isprintable() else "?" for c in text)


def parse_since(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (local midnight) or an ISO date-time; None for None."""
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time()).astimezone()
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MifidelityError(f"--since {text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return parsed if parsed.tzinfo else parsed.astimezone()


class AuditLog:
    def __init__(self, store: PortalStore):
        self.engine = store.engine

    def record(self, action: Action, username: str | None = None, address: str | None = None,
               session_id: str | None = None, detail: str = "") -> None:
        with self.engine.begin() as db:
            db.execute(insert(AuditRow.__table__).values(
                at=utcnow(), action=Action(action).value, username=(username or None) and username[:255],
                address=address, session_id=session_id, detail=detail[:1000]))
        # Names and ids only: the log never carries transcript text.
        logger.info("audit %s user=%r session=%s", action.value, username, session_id)

    def events(self, since: datetime | None = None) -> list[AuditEvent]:
        query = select(AuditRow).order_by(AuditRow.at, AuditRow.id)
        if since is not None:
            query = query.where(AuditRow.at >= since.astimezone(timezone.utc))
        with Session(self.engine) as db:
            return [AuditEvent(aware(r.at), Action(r.action), r.username, r.address, r.session_id, r.detail)
                    for r in db.scalars(query)]
