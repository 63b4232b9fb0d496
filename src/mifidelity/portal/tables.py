"""The portal's tables, in the inbox ledger's database but under their own metadata.

The ledger (:mod:`mifidelity.service.ledger`) owns its schema; the portal only adds tables whose
names start with ``portal_``, created by :class:`PortalStore`. One database means one thing to back
up and one URL to configure (``inbox.database_url``; SQLite in ``OUT/.ledger.sqlite`` otherwise),
and `mifidelity serve` can run beside `mifidelity watch` on the same folder.

No table holds transcript text: corrections name a session, an utterance's index and a code field;
the text is read from the session folder only when the training export is written.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path

from sqlalchemy import DateTime, Integer, String, Text, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mifidelity.config import PipelineConfig
from mifidelity.service.ledger import Ledger, ledger_for


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Role(StrEnum):
    """What an account may see (the strings are what the database holds)."""

    COACH = "coach"  # the sessions whose session.json names this account as the coach
    SUPERVISOR = "supervisor"  # every session, and the decisions on corrections


class CorrectionStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "portal_users"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)  # scrypt$n$r$p$salt$hash (see accounts.hash_password)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSessionRow(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "portal_web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(255), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginFailureRow(Base):
    __tablename__ = "portal_login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(255), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class CorrectionRow(Base):
    """A coach's "this code is wrong": who, when, where, what was coded, what it should be, and why."""

    __tablename__ = "portal_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(255), index=True)
    coach: Mapped[str | None] = mapped_column(String(255), nullable=True)  # the session's coach when it was made
    utterance: Mapped[int] = mapped_column(Integer)  # row index in utterances.csv (u<N> in the report)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(String(64), nullable=True)
    proposed_value: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=CorrectionStatus.OPEN, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    text_sha256: Mapped[str] = mapped_column(String(64))  # of the utterance's text when it was made (not the text)


class AuditRow(Base):
    __tablename__ = "portal_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    username: Mapped[str | None] = mapped_column(String(255), nullable=True)  # the name typed, for failed logins
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")  # never transcript text


def _sqlite_normal_sync(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PortalStore:
    """The portal's tables behind the ledger's engine (same database, same SQLite settings).

    Parameters
    ----------
    ledger:
        The inbox ledger whose database the portal shares (it opens the database the way the
        watcher does: owner-only SQLite file, WAL, a busy timeout); see :meth:`for_out`.
    """

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.url = ledger.url
        self.engine: Engine = ledger.engine
        if self.engine.dialect.name == "sqlite":
            # This engine is the portal's own (the watcher opens its own in its own process). In WAL mode,
            # synchronous=NORMAL still never corrupts the database; a power cut may lose the last moments'
            # audit rows. It spares an fsync per report view.
            event.listen(self.engine, "connect", _sqlite_normal_sync)
            self.engine.dispose()  # connections opened so far had the default
        for attempt in range(5):  # another process may be creating them at the same moment
            try:
                Base.metadata.create_all(self.engine)
                break
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    @classmethod
    def for_out(cls, out_dir: str | Path, config: PipelineConfig | None = None) -> "PortalStore":
        """The store of the output folder ``out_dir``: ``inbox.database_url``, else ``OUT/.ledger.sqlite``."""
        return cls(ledger_for(out_dir, config or PipelineConfig()))

    @classmethod
    def from_url(cls, url: str) -> "PortalStore":
        return cls(Ledger(url))

    def close(self) -> None:
        self.engine.dispose()
