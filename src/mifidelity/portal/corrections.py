"""Feedback on codes: a coach marks an utterance's code as wrong, a supervisor accepts or rejects it,
and accepted corrections are exported in the coder's training format.

A correction names the session, the utterance (its row in utterances.csv, ``u<N>`` in the report),
the code field, the value the coder gave, the proposed value and a comment, with who and when. The
table keeps a SHA-256 of the utterance's text instead of the text, so the export can tell when a
session was reprocessed since (its rows may have moved) and skip such a correction rather than put
a label on the wrong sentence.

The export (:func:`write_training_csv`) has one row per corrected utterance with the columns the
coder's training data has (``transcript_id``, ``utterance_id``, ``role``, ``text``, one column per
code), where only the corrected fields carry a label and the others are empty: the training code
treats an empty label as "not labelled" (no loss), so an accepted correction teaches exactly what
the supervisor agreed to. ``previous_client`` is what the client said just before (the adherence
coder's context).
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mifidelity.coding.base import (ADHERENCE_COLUMN, ADHERENCE_LABELS, CLIENT_TALK_COLUMN, CODE_COLUMNS,
                                     COACH_CODE_COLUMNS, LABELS)
from mifidelity.errors import MifidelityError
from mifidelity.files import spreadsheet_safe, write_private_atomic
from mifidelity.portal.library import SessionFolder, SessionLibrary, UnsafeFile
from mifidelity.portal.pages import PageCache
from mifidelity.portal.tables import CorrectionRow, CorrectionStatus, PortalStore, aware, utcnow
from mifidelity.report.codes import code_field_label, code_value_label

MAX_COMMENT_LENGTH = 2000
RECHECK_SECONDS = 2.0

# Field -> (role it applies to, values as utterances.csv writes them). One home for what may be corrected.
CORRECTABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    **{field: ("coach", tuple(str(v) for v in LABELS[field])) for field in COACH_CODE_COLUMNS},
    ADHERENCE_COLUMN: ("coach", ADHERENCE_LABELS),
    CLIENT_TALK_COLUMN: ("client", tuple(LABELS[CLIENT_TALK_COLUMN])),
}
TRAINING_COLUMNS = ("transcript_id", "utterance_id", "role", "text", *CODE_COLUMNS, ADHERENCE_COLUMN,
                    "previous_client", "session_id", "correction_ids")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _value(field: str, raw: str | None) -> str | None:
    """A code cell of utterances.csv as one of CORRECTABLE's strings (None when empty)."""
    if raw is None or raw == "" or raw.lower() == "nan":
        return None
    if field == "giving_information":
        return {"true": "True", "1": "True", "1.0": "True", "false": "False", "0": "False", "0.0": "False"}.get(raw.lower(), raw)
    return raw


@dataclass(frozen=True)
class Utterance:
    index: int
    role: str
    text: str
    start: str
    codes: dict[str, str | None]  # correctable field -> current value, for the fields of this role present in the file

    def fields(self) -> list[str]:
        return list(self.codes)


def session_utterances(library: SessionLibrary, session: SessionFolder, cache: PageCache | None = None) -> list[Utterance]:
    """The rows of the session's utterances.csv; with ``cache``, kept there per output folder and session version."""
    def read() -> list[Utterance]:
        raw = library.read(session, "utterances.csv").decode("utf-8")
        rows = []
        for i, record in enumerate(csv.DictReader(io.StringIO(raw, newline=""))):
            role = record.get("role") or ""
            codes = {field: _value(field, record.get(field)) for field, (applies, _) in CORRECTABLE.items()
                     if applies == role and field in record}
            rows.append(Utterance(i, role, record.get("text") or "", record.get("start") or "", codes))
        return rows

    try:  # an unreadable file is not cached: it may be written a moment later
        return read() if cache is None else cache.get((library.out_dir, session.folder_name, session.mtime_ns), read)
    except (UnsafeFile, UnicodeDecodeError):
        return []


@dataclass(frozen=True)
class Correction:
    id: int
    session_id: str
    coach: str | None
    utterance: int
    field: str
    old_value: str | None
    proposed_value: str
    comment: str
    author: str
    created_at: datetime
    status: CorrectionStatus
    decided_by: str | None
    decided_at: datetime | None
    text_sha256: str

    @property
    def field_name(self) -> str:
        """The code's name in the report's words."""
        return code_field_label(self.field)

    @property
    def old_label(self) -> str:
        return code_value_label(self.field, self.old_value)

    @property
    def proposed_label(self) -> str:
        return code_value_label(self.field, self.proposed_value)


@dataclass(frozen=True)
class Turn:
    """One utterance shown around a flagged one: who said it and what."""

    index: int
    role: str
    text: str
    flagged: bool  # the utterance the correction is about


@dataclass(frozen=True)
class CorrectionInContext:
    """A correction with the words it is about and the turns around them, so it can be judged on its own page."""

    correction: Correction
    turns: list[Turn]  # the flagged utterance with up to AROUND turns before and after; empty when it is gone
    changed: bool  # the session was reprocessed since: these are not the words that were flagged


AROUND = 1  # turns shown before and after a flagged utterance


def turns_around(rows: list[Utterance], index: int, around: int = AROUND) -> list[Turn]:
    """The utterance ``index`` of ``rows`` with ``around`` utterances on either side (fewer at the edges)."""
    if not 0 <= index < len(rows):
        return []
    return [Turn(r.index, r.role, r.text, r.index == index) for r in rows[max(0, index - around):index + around + 1]]


def _plain(row: CorrectionRow) -> Correction:
    return Correction(row.id, row.session_id, row.coach, row.utterance, row.field, row.old_value, row.proposed_value,
                      row.comment, row.author, aware(row.created_at), CorrectionStatus(row.status), row.decided_by,
                      aware(row.decided_at), row.text_sha256)


def clean_comment(comment: str) -> str:
    """Line breaks and tabs stay; other control characters go; at most MAX_COMMENT_LENGTH characters."""
    kept = "".join(c for c in comment if c in "\n\t" or not unicodedata.category(c).startswith("C"))
    return kept.strip()[:MAX_COMMENT_LENGTH]


class Corrections:
    """The corrections table. Reads on every report view are cached for :data:`RECHECK_SECONDS` (a write
    through this object clears the cache at once; another portal process's within that time)."""

    def __init__(self, store: PortalStore):
        self.engine = store.engine
        self._cache: dict[object, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._utterances = PageCache(size=64)

    def utterances(self, library: SessionLibrary, session: SessionFolder) -> list[Utterance]:
        """:func:`session_utterances`, cached in this object (thread-safe, keyed by output folder and session version)."""
        return session_utterances(library, session, self._utterances)

    def in_context(self, library: SessionLibrary, corrections: list[Correction],
                   around: int = AROUND) -> list[CorrectionInContext]:
        """Each correction with its utterance's words and the turns around them (read from the session folder)."""
        sessions = library.all()
        found = []
        for c in corrections:
            session = sessions.get(c.session_id)
            rows = self.utterances(library, session) if session is not None else []
            turns = turns_around(rows, c.utterance, around)
            changed = bool(turns) and text_sha256(rows[c.utterance].text) != c.text_sha256
            found.append(CorrectionInContext(c, turns, changed))
        return found

    def _cached(self, key, read):
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < RECHECK_SECONDS:
            return hit[1]
        value = read()
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def _changed(self) -> None:
        with self._lock:
            self._cache.clear()

    def propose(self, session: SessionFolder, utterance: Utterance, field: str, proposed: str, comment: str,
                author: str) -> Correction:
        """Store "``field`` of this utterance should be ``proposed``"; MifidelityError if that is not a valid change."""
        if field not in utterance.codes:
            raise MifidelityError(f"this utterance has no {field!r} code to correct")
        if proposed not in CORRECTABLE[field][1]:
            raise MifidelityError(f"{proposed!r} is not a value of {code_field_label(field)}")
        old = utterance.codes[field]
        if proposed == old:
            raise MifidelityError("the proposed code is the one the coder gave")
        with Session(self.engine, expire_on_commit=False) as db, db.begin():
            row = CorrectionRow(session_id=session.session_id, coach=session.coach, utterance=utterance.index,
                                field=field, old_value=old, proposed_value=proposed, comment=clean_comment(comment),
                                author=author, status=CorrectionStatus.OPEN.value, text_sha256=text_sha256(utterance.text))
            db.add(row)
        self._changed()
        return _plain(row)

    def get(self, correction_id: int) -> Correction | None:
        with Session(self.engine) as db:
            row = db.get(CorrectionRow, correction_id)
            return None if row is None else _plain(row)

    def for_session(self, session_id: str) -> list[Correction]:
        table = CorrectionRow.__table__
        query = select(table).where(table.c.session_id == session_id).order_by(table.c.utterance, table.c.id)

        def read():
            with self.engine.connect() as db:  # on every report view: rows, not ORM objects
                return [_plain(r) for r in db.execute(query)]
        return list(self._cached(("session", session_id), read))

    def count_open(self) -> int:
        def read():
            with self.engine.connect() as db:
                return db.scalar(select(func.count()).select_from(CorrectionRow.__table__)
                                 .where(CorrectionRow.__table__.c.status == CorrectionStatus.OPEN.value))
        return self._cached("open", read)

    def with_status(self, status: CorrectionStatus) -> list[Correction]:
        with Session(self.engine) as db:
            return [_plain(r) for r in db.scalars(select(CorrectionRow).where(CorrectionRow.status == status.value)
                                                  .order_by(CorrectionRow.coach, CorrectionRow.session_id,
                                                            CorrectionRow.utterance, CorrectionRow.id))]

    def by_author(self, author: str) -> list[Correction]:
        """What one person flagged, newest first."""
        with Session(self.engine) as db:
            return [_plain(r) for r in db.scalars(select(CorrectionRow).where(CorrectionRow.author == author)
                                                  .order_by(CorrectionRow.created_at.desc(), CorrectionRow.id.desc()))]

    def open_by_session(self) -> list[tuple[str | None, str, list[Correction]]]:
        """Open disagreements grouped as (coach, session id, corrections), by coach then session."""
        groups: dict[tuple[str, str], list[Correction]] = {}
        for c in self.with_status(CorrectionStatus.OPEN):
            groups.setdefault((c.coach or "", c.session_id), []).append(c)
        return [(coach or None, session_id, items) for (coach, session_id), items in sorted(groups.items())]

    def decide(self, correction_id: int, accept: bool, supervisor: str) -> Correction:
        """Accept or reject an open correction; MifidelityError if it is not open (decided already, or unknown)."""
        with Session(self.engine, expire_on_commit=False) as db, db.begin():
            row = db.get(CorrectionRow, correction_id)
            if row is None or row.status != CorrectionStatus.OPEN:
                raise MifidelityError("this correction is not open (decided already, or unknown)")
            row.status = (CorrectionStatus.ACCEPTED if accept else CorrectionStatus.REJECTED).value
            row.decided_by, row.decided_at = supervisor, utcnow()
        self._changed()
        return _plain(row)


@dataclass(frozen=True)
class ExportSummary:
    rows: int
    corrections: int
    skipped: list[str]  # why an accepted correction was left out (session gone, utterance changed)


def training_rows(library: SessionLibrary, accepted: list[Correction]) -> tuple[list[dict], list[str]]:
    """Accepted corrections as training rows (one per corrected utterance), and what was skipped and why."""
    sessions = library.all()
    cache = PageCache(size=max(len(sessions), 1))  # one read per session, for this export only
    merged: dict[tuple[str, int], dict] = {}
    skipped = []
    for c in accepted:
        session = sessions.get(c.session_id)
        rows = session_utterances(library, session, cache) if session is not None else []
        if c.utterance >= len(rows) or text_sha256(rows[c.utterance].text) != c.text_sha256:
            skipped.append(f"correction {c.id} ({c.session_id} u{c.utterance}): the session is gone or was reprocessed")
            continue
        utterance = rows[c.utterance]
        row = merged.get((c.session_id, c.utterance))
        if row is None:
            previous = next((r.text for r in reversed(rows[:c.utterance]) if r.role == "client"), "")
            row = merged[(c.session_id, c.utterance)] = {
                "transcript_id": c.session_id, "utterance_id": c.utterance, "role": utterance.role,
                "text": utterance.text, **{column: "" for column in (*CODE_COLUMNS, ADHERENCE_COLUMN)},
                "previous_client": previous if utterance.role == "coach" else "", "session_id": c.session_id,
                "correction_ids": ""}
        row[c.field] = c.proposed_value  # a later accepted correction of the same field wins
        row["correction_ids"] = " ".join(filter(None, [row["correction_ids"], str(c.id)]))
    return [merged[key] for key in sorted(merged)], skipped


def write_training_csv(store: PortalStore, out_dir: str | Path, path: str | Path) -> ExportSummary:
    """Write the accepted corrections of ``out_dir``'s sessions to ``path`` (owner-only: it holds transcript text)."""
    accepted = Corrections(store).with_status(CorrectionStatus.ACCEPTED)
    rows, skipped = training_rows(SessionLibrary(out_dir), accepted)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=TRAINING_COLUMNS, lineterminator="\n")
    writer.writeheader()
    # utterance text and comments can start like a formula: shown as text in a spreadsheet, read back as
    # written by mifidelity.training.data.load_corrections
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_atomic(path, buffer.getvalue())
    return ExportSummary(len(rows), len(accepted) - len(skipped), skipped)
