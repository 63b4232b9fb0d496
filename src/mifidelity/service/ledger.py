"""The inbox ledger: one row per recording, keyed by the SHA-256 of its content.

SQLite by default (a file beside the outputs), any SQLAlchemy URL otherwise
(PostgreSQL when several machines share one inbox). The ledger is what makes
the watcher safe to kill: a recording is claimed with one conditional UPDATE,
so two watchers never process the same content. The holder renews its claim
(``heartbeat_at``) while it works; a claim whose heartbeat stopped, or whose
process on this host is gone, is handed back out (see
:meth:`Ledger.recover_abandoned`), wherever its machine was.

Who holds a claim is ``<host>:<pid>``; the host is :func:`host_id` (the
``MIFIDELITY_HOST`` environment variable, else the host name), so two machines
can be simulated on one.

The ledger holds file names, hashes, statuses and error messages; never
transcript text.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path

from sqlalchemy import (
    DateTime, Integer, String, Text, case, create_engine, event, inspect, select, text, update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from mifidelity.config import PipelineConfig
from mifidelity.files import PRIVATE_FILE_MODE, touch_private


class Status(StrEnum):
    """Where a recording is in its life (the strings are what the database holds)."""

    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class DropOutcome(StrEnum):
    """What became of a file the watcher disposed of (the strings are what the database holds)."""

    ARCHIVED = "archived"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    REFUSED = "refused"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Base(DeclarativeBase):
    pass


class EntryRow(Base):
    """One recording (one content hash) and where it is in its life."""

    __tablename__ = "recordings"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=Status.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_path: Mapped[str] = mapped_column(Text)  # inbox-relative path where it was (last) seen
    coach: Mapped[str | None] = mapped_column(String(255), nullable=True)
    session_id: Mapped[str] = mapped_column(String(255), unique=True)
    output_folder: Mapped[str | None] = mapped_column(Text, nullable=True)
    moved_to: Mapped[str | None] = mapped_column(Text, nullable=True)  # inbox-relative archive/failed path
    claimed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)  # host:pid of the last claim
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)  # host:parent pid (the Prefect worker)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # holder alive then
    flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the Prefect run holding the claim
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DropRow(Base):
    """Every file the watcher disposed of (processed, duplicate, refused), for an audit trail."""

    __tablename__ = "drops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(32))  # a DropOutcome
    moved_to: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class LedgerEntry:
    """A plain copy of a ledger row (safe to use after its database session closed)."""

    sha256: str
    status: Status
    attempts: int
    error: str | None
    source_path: str
    coach: str | None
    session_id: str
    output_folder: str | None
    moved_to: str | None
    claimed_by: str | None
    worker: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None = None
    flow_run_id: str | None = None


def _plain(row: EntryRow) -> LedgerEntry:
    return LedgerEntry(
        row.sha256, Status(row.status), row.attempts, row.error, row.source_path, row.coach, row.session_id,
        row.output_folder, row.moved_to, row.claimed_by, row.worker, _aware(row.next_attempt_at), _aware(row.created_at),
        _aware(row.updated_at), _aware(row.started_at), _aware(row.finished_at), _aware(row.heartbeat_at),
        row.flow_run_id,
    )


def default_database_url(out_dir: str | Path) -> str:
    return f"sqlite:///{(Path(out_dir) / '.ledger.sqlite').resolve()}"


def ledger_for(out_dir: str | Path, config: PipelineConfig) -> Ledger:
    """The ledger a watcher writing to ``out_dir`` uses: ``inbox.database_url``, else SQLite in ``out_dir``."""
    return Ledger(config.inbox.database_url or default_database_url(out_dir))


HOST_ENV = "MIFIDELITY_HOST"


def host_id() -> str:
    """This machine's name in claims: ``$MIFIDELITY_HOST`` if set, else the host name."""
    return os.environ.get(HOST_ENV, "").strip() or socket.gethostname()


def worker_id() -> str:
    """Who holds a claim: this machine (:func:`host_id`) and process id."""
    return f"{host_id()}:{os.getpid()}"


class Ledger:
    """The recordings table behind a SQLAlchemy engine.

    Parameters
    ----------
    url:
        A SQLAlchemy URL. For SQLite the file is created owner-only.
    """

    def __init__(self, url: str):
        self.url = url
        self.engine: Engine = _make_engine(url)
        self._create_tables()
        self._add_missing_columns()
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            os.chmod(self.engine.url.database, PRIVATE_FILE_MODE)

    def _create_tables(self, tries: int = 5) -> None:
        # Several watchers (machines) may create the tables at the same moment: one wins, the others
        # see "already exists" and check again.
        for attempt in range(tries):
            try:
                Base.metadata.create_all(self.engine)
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == tries - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _add_missing_columns(self, tries: int = 5) -> None:
        """Bring a ledger written by an older version up to date: add the columns it lacks (all nullable).

        Rows are kept. Several watchers may migrate at the same moment: the
        loser of an ``ALTER TABLE`` race looks again and finds the column there.
        """
        for attempt in range(tries):
            present = {c["name"] for c in inspect(self.engine).get_columns(EntryRow.__tablename__)}
            missing = [c for c in EntryRow.__table__.columns if c.name not in present]
            if not missing:
                return
            try:
                with self.engine.begin() as connection:
                    for column in missing:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        connection.execute(text(f"ALTER TABLE {EntryRow.__tablename__} ADD COLUMN {column.name} {kind}"))
            except (OperationalError, ProgrammingError):
                if attempt == tries - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def close(self) -> None:
        self.engine.dispose()

    # -- reading -------------------------------------------------------------------------------

    def get(self, sha256: str) -> LedgerEntry | None:
        with Session(self.engine) as db:
            row = db.get(EntryRow, sha256)
            return None if row is None else _plain(row)

    def for_session(self, session_id: str) -> LedgerEntry | None:
        """The recording that became session ``session_id`` (session ids are unique in the ledger)."""
        with Session(self.engine) as db:
            row = db.scalar(select(EntryRow).where(EntryRow.session_id == session_id))
            return None if row is None else _plain(row)

    def all(self) -> list[LedgerEntry]:
        with Session(self.engine) as db:
            return [_plain(r) for r in db.scalars(select(EntryRow).order_by(EntryRow.created_at))]

    def drops(self) -> list[DropRow]:
        with Session(self.engine, expire_on_commit=False) as db:
            return list(db.scalars(select(DropRow).order_by(DropRow.id)))

    def session_id_taken(self, session_id: str) -> bool:
        with Session(self.engine) as db:
            return db.scalar(select(EntryRow.sha256).where(EntryRow.session_id == session_id)) is not None

    def due(self, now: datetime | None = None) -> list[LedgerEntry]:
        """Queued recordings whose back-off (if any) has elapsed, oldest first."""
        now = now or utcnow()
        with Session(self.engine) as db:
            rows = db.scalars(select(EntryRow).where(EntryRow.status == Status.QUEUED)
                              .order_by(EntryRow.created_at))
            return [_plain(r) for r in rows if r.next_attempt_at is None or _aware(r.next_attempt_at) <= now]

    # -- writing -------------------------------------------------------------------------------

    def register(self, sha256: str, source_path: str, coach: str | None, session_ids: list[str]) -> LedgerEntry:
        """Add a newly seen recording as queued (or return the existing row for this content).

        ``session_ids`` are candidate session ids in order of preference; the
        first not used by other content is taken (the unique constraint
        settles races between machines).
        """
        existing = self.get(sha256)
        if existing is not None:
            return existing
        for session_id in session_ids:
            if self.session_id_taken(session_id):
                continue
            try:
                with Session(self.engine) as db, db.begin():
                    db.add(EntryRow(sha256=sha256, status=Status.QUEUED, attempts=0, source_path=source_path,
                                        coach=coach, session_id=session_id))
            except IntegrityError:
                existing = self.get(sha256)
                if existing is not None:  # another watcher registered the same content just now
                    return existing
                continue  # the session id was taken meanwhile; try the next one
            return self.get(sha256)
        raise RuntimeError(f"no free session id among {session_ids}")

    def set_source(self, sha256: str, source_path: str, coach: str | None) -> None:
        """The queued recording's file is now at another path (the first copy went away)."""
        self._update(sha256, source_path=source_path, coach=coach)

    def claim(self, sha256: str, owner: str | None = None, flow_run_id: str | None = None) -> bool:
        """Take a queued recording for processing; False if someone else has it (or it is not queued).

        ``owner`` (default :func:`worker_id`) must then renew the claim with
        :meth:`heartbeat`; ``flow_run_id`` names the Prefect run doing the work.
        """
        now = utcnow()
        with Session(self.engine) as db, db.begin():
            result = db.execute(
                update(EntryRow)
                .where(EntryRow.sha256 == sha256, EntryRow.status == Status.QUEUED)
                .values(status=Status.PROCESSING, claimed_by=owner or worker_id(), started_at=now, updated_at=now,
                        heartbeat_at=now, next_attempt_at=None, worker=f"{host_id()}:{os.getppid()}",
                        flow_run_id=flow_run_id)
            )
            return result.rowcount == 1

    def heartbeat(self, hashes: list[str], owner: str) -> set[str]:
        """Renew ``owner``'s claims on ``hashes``; returns those it still holds (the others were taken back)."""
        if not hashes:
            return set()
        with Session(self.engine) as db, db.begin():
            db.execute(update(EntryRow)
                       .where(EntryRow.sha256.in_(hashes), EntryRow.status == Status.PROCESSING,
                              EntryRow.claimed_by == owner)
                       .values(heartbeat_at=utcnow()))
            held = db.scalars(select(EntryRow.sha256).where(
                EntryRow.sha256.in_(hashes), EntryRow.status == Status.PROCESSING, EntryRow.claimed_by == owner))
            return set(held)

    def holds(self, sha256: str, owner: str) -> bool:
        """Whether ``owner`` still holds the claim on this recording."""
        return sha256 in self.heartbeat([sha256], owner)

    def release(self, sha256: str, owner: str, reason: str) -> bool:
        """Give a claim back unfinished (the worker is stopping): queued at once, and the try is not counted.

        False when ``owner`` did not hold it.
        """
        with Session(self.engine) as db, db.begin():
            result = db.execute(
                update(EntryRow)
                .where(EntryRow.sha256 == sha256, EntryRow.status == Status.PROCESSING, EntryRow.claimed_by == owner)
                .values(status=Status.QUEUED, claimed_by=None, flow_run_id=None, next_attempt_at=None, error=reason,
                        attempts=case((EntryRow.attempts > 0, EntryRow.attempts - 1), else_=0), updated_at=utcnow())
            )
            return result.rowcount == 1

    def start_attempt(self, sha256: str) -> int:
        """Count one more try (each Prefect task retry is one); returns the number of tries so far."""
        with Session(self.engine) as db, db.begin():
            db.execute(update(EntryRow).where(EntryRow.sha256 == sha256)
                       .values(attempts=EntryRow.attempts + 1, updated_at=utcnow()))
            return db.get(EntryRow, sha256).attempts

    def mark_done(self, sha256: str, output_folder: str) -> None:
        now = utcnow()
        self._update(sha256, status=Status.DONE, output_folder=output_folder, error=None, finished_at=now)

    def mark_failed(self, sha256: str, error: str) -> None:
        self._update(sha256, status=Status.FAILED, error=error, finished_at=utcnow())

    def requeue(self, sha256: str, error: str, delay_seconds: float) -> None:
        """A transient failure: try again after ``delay_seconds``."""
        self._update(sha256, status=Status.QUEUED, error=error, claimed_by=None,
                     next_attempt_at=utcnow() + timedelta(seconds=delay_seconds))

    def set_moved(self, sha256: str, moved_to: str) -> None:
        self._update(sha256, moved_to=moved_to)

    def record_drop(self, source_path: str, sha256: str | None, outcome: DropOutcome, moved_to: str,
                    reason: str | None = None) -> None:
        with Session(self.engine) as db, db.begin():
            db.add(DropRow(source_path=source_path, sha256=sha256, outcome=DropOutcome(outcome), moved_to=moved_to,
                           reason=reason))

    def recover_abandoned(self, stale_after_seconds: float, alive=None, host: str | None = None,
                          spare: str | None = None) -> list[LedgerEntry]:
        """Hand claims whose holder is gone back to the queue; returns them as they were.

        A claim is abandoned when its heartbeat (for a row from before
        heartbeats: its last update) is older than ``stale_after_seconds``,
        wherever its holder ran (a machine lost power), or at once when it was
        made on this host (``host``, default :func:`host_id`) by a process that
        no longer exists. Claims of ``spare`` (the caller, alive by definition) are kept.
        """
        alive = alive or _pid_alive
        host = host or host_id()
        now = utcnow()
        recovered = []
        with Session(self.engine) as db, db.begin():
            for row in db.scalars(select(EntryRow).where(EntryRow.status == Status.PROCESSING)):
                owner_host, _, pid = (row.claimed_by or "").rpartition(":")
                dead_here = owner_host == host and pid.isdigit() and not alive(int(pid))
                last_sign_of_life = _aware(row.heartbeat_at or row.updated_at)
                stale = last_sign_of_life < now - timedelta(seconds=stale_after_seconds)
                if row.claimed_by and row.claimed_by == spare:
                    continue
                if dead_here or stale or not row.claimed_by:
                    recovered.append(_plain(row))
                    row.status, row.claimed_by, row.flow_run_id, row.updated_at = Status.QUEUED, None, None, now
                    row.error = "the process handling it stopped before finishing; it is tried again"
        return recovered

    def _update(self, sha256: str, **values) -> None:
        with Session(self.engine) as db, db.begin():
            db.execute(update(EntryRow).where(EntryRow.sha256 == sha256).values(updated_at=utcnow(), **values))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) counts as dead.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        database = url.split("///", 1)[1] if "///" in url else ""
        if database and database != ":memory:":
            touch_private(database)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
