"""The ledger on a real PostgreSQL (what several machines share), started just for these tests.

A throwaway cluster listens on a Unix socket only (no TCP). As root it runs as the
`postgres` system user, as PostgreSQL requires.
"""

import shutil
import threading
import time

import pytest

from support.flows import FAST_CONFIG
from support.media import SESSION1, clip

from support.postgres import as_db_user as _as_db_user, cluster_folders

pytest.importorskip("psycopg", reason="install the test extra: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def postgres_url():
    bin_dir, base, data, sockets = cluster_folders("mifidelity-pg-")
    port = "54329"
    try:
        _as_db_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
        _as_db_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(sockets / "server.log"), "-o",
                     f"-k {sockets} -p {port} -c listen_addresses='' -c fsync=off", "start"])
        _as_db_user([str(bin_dir / "createdb"), "-h", str(sockets), "-p", port, "-U", "postgres", "ledger"])
        yield f"postgresql+psycopg://postgres@/ledger?host={sockets}&port={port}"
    finally:
        if (data / "postmaster.pid").exists():
            _as_db_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def test_register_claim_once_and_recover_on_postgresql(postgres_url):
    from mifidelity.service.ledger import Ledger, Status

    ledger = Ledger(postgres_url)
    try:
        sha = "a" * 64
        row = ledger.register(sha, "coach/a.mp3", "coach", ["a"])
        assert (row.status, row.session_id) == (Status.QUEUED, "a")
        assert ledger.register(sha, "renamed.mp3", None, ["renamed"]).session_id == "a"  # same content, same row

        # Eight watchers race for one recording: exactly one claim wins.
        wins, errors = [], []

        def race():
            other = Ledger(postgres_url)
            try:
                wins.append(other.claim(sha))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                other.close()

        threads = [threading.Thread(target=race) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert errors == [] and wins.count(True) == 1, (wins, errors)
        assert ledger.get(sha).status == Status.PROCESSING
        assert ledger.heartbeat([sha], ledger.get(sha).claimed_by) == {sha}  # the holder renews its claim
        assert ledger.recover_abandoned(stale_after_seconds=60, host="elsewhere") == []
        assert [c.sha256 for c in ledger.recover_abandoned(stale_after_seconds=0.0, host="elsewhere")] == [sha]
        assert ledger.claim(sha)
        ledger.mark_done(sha, "/out/a")
        assert ledger.get(sha).status == Status.DONE
    finally:
        ledger.close()


def test_an_old_ledger_on_postgresql_gets_the_new_columns(postgres_url):
    """A ledger created before claims had heartbeats is migrated in place; its rows are kept."""
    from sqlalchemy import create_engine, text

    from mifidelity.service.ledger import Ledger

    old_schema = postgres_url.replace("/ledger?", "/ledger_old?")
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text("CREATE DATABASE ledger_old"))
    admin.dispose()
    engine = create_engine(old_schema)
    with engine.begin() as db:
        db.execute(text(
            "CREATE TABLE recordings (sha256 varchar(64) PRIMARY KEY, status varchar(16), attempts integer, error text, "
            "source_path text, coach varchar(255), session_id varchar(255) UNIQUE, output_folder text, moved_to text, "
            "claimed_by varchar(255), worker varchar(255), next_attempt_at timestamptz, created_at timestamptz, "
            "updated_at timestamptz, started_at timestamptz, finished_at timestamptz)"))
        db.execute(text("INSERT INTO recordings VALUES ('c', 'processing', 1, NULL, 'c.mp3', NULL, 'c', NULL, NULL, "
                        "'elsewhere:1', 'elsewhere:0', NULL, now(), now() - interval '1 hour', NULL, NULL)"))
    engine.dispose()
    ledgers = [Ledger(old_schema) for _ in range(3)]  # the first upgrades it; the others find it up to date
    try:
        assert ledgers[0].get("c").heartbeat_at is None
        assert [c.sha256 for c in ledgers[1].recover_abandoned(stale_after_seconds=120, host="here")] == ["c"]
        assert ledgers[2].claim("c", "here:1") and ledgers[2].get("c").heartbeat_at is not None
    finally:
        [ledger.close() for ledger in ledgers]


@pytest.mark.slow
@pytest.mark.usefixtures("one_prefect_server")
def test_watch_inbox_run_with_postgresql_ledger(postgres_url, tmp_path):
    from mifidelity.service.ledger import Ledger
    from support.flows import run_flow_once

    inbox, out = tmp_path / "inbox", tmp_path / "out"
    (inbox / "coach").mkdir(parents=True)
    clip(SESSION1, inbox / "coach" / "first.mp3", 0, 15)
    (inbox / "empty.mp3").write_bytes(b"")
    began = time.time()
    report = run_flow_once(inbox, out, FAST_CONFIG + f"  database_url: '{postgres_url}'\n")
    assert report["processed"] == ["coach/first.mp3"] and report["refused"] == ["empty.mp3"], report
    assert (inbox / "archive" / "coach" / "first.mp3").exists() and (inbox / "failed" / "empty.mp3").exists()
    assert not (out / ".ledger.sqlite").exists()  # the ledger went to PostgreSQL
    ledger = Ledger(postgres_url)
    try:
        rows = [r for r in ledger.all() if r.finished_at and r.finished_at.timestamp() >= began - 1]
        assert [(r.source_path, r.status) for r in rows] == [("coach/first.mp3", "done")]
    finally:
        ledger.close()
