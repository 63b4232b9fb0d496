"""The inbox ledger: one row per content hash, exclusive claims, crash recovery (SQLite through SQLAlchemy)."""

import os
import stat
from datetime import timedelta

import pytest

from mifidelity.service.ledger import DropOutcome, Ledger, Status, default_database_url, utcnow


@pytest.fixture
def ledger(tmp_path):
    book = Ledger(default_database_url(tmp_path))
    yield book
    book.close()


def test_sqlite_file_is_owner_only(tmp_path, ledger):
    mode = stat.S_IMODE(os.stat(tmp_path / ".ledger.sqlite").st_mode)
    assert mode == 0o600


def test_same_content_is_one_row_and_names_never_clash(ledger):
    first = ledger.register("a" * 64, "coach/s.mp3", "coach", ["s", "s-aaaaaaaa"])
    again = ledger.register("a" * 64, "coach/renamed.mp3", "coach", ["renamed"])
    assert again == first and len(ledger.all()) == 1
    other = ledger.register("b" * 64, "coach/s.mp3", "coach", ["s", "s-bbbbbbbb"])  # same name, new content
    assert other.session_id == "s-bbbbbbbb" and other.status == Status.QUEUED


def test_claim_is_exclusive_and_counts_attempts(ledger):
    ledger.register("c" * 64, "x.mp3", None, ["x"])
    assert ledger.claim("c" * 64, "host:1")
    assert not ledger.claim("c" * 64, "host:2")
    assert ledger.start_attempt("c" * 64) == 1
    ledger.mark_done("c" * 64, "/out/x")
    row = ledger.get("c" * 64)
    assert (row.status, row.output_folder, row.attempts) == (Status.DONE, "/out/x", 1)
    assert row.finished_at is not None and row.created_at <= row.finished_at


def test_requeue_waits_for_backoff_then_fails(ledger):
    ledger.register("d" * 64, "d.mp3", None, ["d"])
    ledger.claim("d" * 64)
    ledger.requeue("d" * 64, "RuntimeError: boom", delay_seconds=60)
    assert ledger.due() == []
    assert [r.sha256 for r in ledger.due(utcnow() + timedelta(seconds=61))] == ["d" * 64]
    ledger.claim("d" * 64)
    ledger.mark_failed("d" * 64, "it broke")
    assert (ledger.get("d" * 64).status, ledger.get("d" * 64).error) == (Status.FAILED, "it broke")


def test_claims_of_dead_processes_are_recovered(ledger):
    ledger.register("e" * 64, "e.mp3", None, ["e"])
    ledger.register("f" * 64, "f.mp3", None, ["f"])
    import socket

    ledger.claim("e" * 64, f"{socket.gethostname()}:999999")  # no such process
    ledger.claim("f" * 64)  # this process: alive
    assert ledger.recover_abandoned(lease_seconds=3600) == ["e" * 64]
    assert ledger.get("e" * 64).status == Status.QUEUED and ledger.get("f" * 64).status == Status.PROCESSING
    assert ledger.recover_abandoned(lease_seconds=0.0) == ["f" * 64]  # lease expired (another machine died)


def test_drops_are_recorded(ledger):
    ledger.record_drop("a.mp3", None, DropOutcome.REFUSED, "failed/a.mp3", "empty")
    assert [(d.source_path, d.outcome) for d in ledger.drops()] == [("a.mp3", "refused")]


def test_postgresql_url_is_accepted_without_connecting():
    from mifidelity.service.ledger import _make_engine

    pytest.importorskip("psycopg", reason="the PostgreSQL driver is optional")
    engine = _make_engine("postgresql+psycopg://user@127.0.0.1:1/ledger")
    assert engine.dialect.name == "postgresql"


def test_many_processes_may_create_the_ledger_at_once(tmp_path):
    import threading

    errors = []

    def open_ledger():
        try:
            Ledger(default_database_url(tmp_path)).close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_ledger) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
