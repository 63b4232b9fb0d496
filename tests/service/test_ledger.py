"""The inbox ledger: one row per content hash, exclusive claims, crash recovery (SQLite through SQLAlchemy)."""

import os
import socket
import stat
import time
from datetime import timedelta

import pytest

from mifidelity.service.ledger import (
    HOST_ENV, DropOutcome, Ledger, Status, default_database_url, host_id, utcnow, worker_id,
)


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

    ledger.claim("e" * 64, f"{host_id()}:999999")  # no such process
    ledger.claim("f" * 64)  # this process: alive
    assert [c.sha256 for c in ledger.recover_abandoned(stale_after_seconds=3600)] == ["e" * 64]
    assert ledger.get("e" * 64).status == Status.QUEUED and ledger.get("f" * 64).status == Status.PROCESSING
    # no heartbeat for longer than stale_after (another machine died)
    assert [c.sha256 for c in ledger.recover_abandoned(stale_after_seconds=0.0)] == ["f" * 64]


def test_host_identity_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(HOST_ENV, "machine-b")
    assert host_id() == "machine-b" and worker_id() == f"machine-b:{os.getpid()}"
    monkeypatch.delenv(HOST_ENV)
    assert host_id() == socket.gethostname()


def test_a_claim_whose_heartbeat_stops_is_taken_back_from_any_host(ledger):
    sha = "a" * 64
    ledger.register(sha, "a.mp3", None, ["a"])
    assert ledger.claim(sha, "machine-a:4242", flow_run_id="run-1")  # another host: its pid means nothing here
    began = ledger.get(sha).heartbeat_at
    assert began is not None
    time.sleep(0.3)
    assert ledger.heartbeat([sha], "machine-a:4242") == {sha}
    assert ledger.get(sha).heartbeat_at > began
    assert ledger.recover_abandoned(stale_after_seconds=0.25, host="machine-b") == []  # renewed just now
    time.sleep(0.3)
    [taken] = ledger.recover_abandoned(stale_after_seconds=0.25, host="machine-b")
    assert (taken.sha256, taken.claimed_by, taken.flow_run_id) == (sha, "machine-a:4242", "run-1")
    assert ledger.get(sha).status == Status.QUEUED
    assert ledger.heartbeat([sha], "machine-a:4242") == set()  # the old holder learns it lost the claim
    assert not ledger.holds(sha, "machine-a:4242")


def test_a_released_claim_is_queued_at_once_without_costing_a_try(ledger):
    sha = "b" * 64
    ledger.register(sha, "b.mp3", None, ["b"])
    ledger.claim(sha, "machine-a:1")
    ledger.start_attempt(sha)
    assert not ledger.release(sha, "machine-b:1", "stopped")  # not the holder
    assert ledger.release(sha, "machine-a:1", "the worker was stopped; it is tried again")
    row = ledger.get(sha)
    assert (row.status, row.claimed_by, row.attempts) == (Status.QUEUED, None, 0)
    assert [r.sha256 for r in ledger.due()] == [sha]


def test_an_old_ledger_gets_the_new_columns(tmp_path):
    """A ledger written before claims had heartbeats is migrated in place; its rows are kept."""
    import sqlite3

    path = tmp_path / ".ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("create table recordings (sha256 varchar(64) primary key, status varchar(16), attempts integer, "
                   "error text, source_path text, coach varchar(255), session_id varchar(255) unique, "
                   "output_folder text, moved_to text, claimed_by varchar(255), worker varchar(255), "
                   "next_attempt_at datetime, created_at datetime, updated_at datetime, started_at datetime, "
                   "finished_at datetime)")
        db.execute("insert into recordings values ('c', 'processing', 1, null, 'c.mp3', null, 'c', null, null, "
                   "'elsewhere:1', 'elsewhere:0', null, '2026-01-01 00:00:00', '2026-01-01 00:00:00', null, null)")
    old = Ledger(default_database_url(tmp_path))
    try:
        assert old.get("c").heartbeat_at is None and old.get("c").flow_run_id is None
        # no heartbeat ever: the last update counts
        assert [c.sha256 for c in old.recover_abandoned(stale_after_seconds=60, host="here")] == ["c"]
    finally:
        old.close()


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
