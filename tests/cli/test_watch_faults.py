"""Issue 29's "done when": 16 recordings for two coaches, two workers on two (simulated) machines, two faults.

The faults: ``kill -9`` of a flow-run process while it holds a claim, and ``kill -9`` of the other
machine's `prefect worker` while its scan holds one (its flow run goes on as an orphan, as in the
issue; the worker is started again, as systemd's ``Restart=on-failure`` would). Then every recording
is processed exactly once (one session each, each original archived once, nothing failed or left),
and every Prefect run that started ends in a final state. Heartbeat 1 s, stale after 6 s, scans every 2 s.
"""

import os
import signal
import time

import pytest

from support.flows import FAST_CONFIG, require_working_scheduler, wait_for
from support.media import SESSION1, SESSION2, clip
from support.workers import PrefectOnLoopback, command_line, ledger_rows, processes_of_host

pytestmark = pytest.mark.slow

RECORDINGS = 16


def _held_by(out, host, other_than=()):
    return next((r for r in ledger_rows(out) if r.status == "processing" and (r.claimed_by or "").startswith(f"{host}:")
                 and r.sha256 not in other_than), None)


def test_sixteen_recordings_two_workers_two_faults_each_processed_once(tmp_path):
    require_working_scheduler()
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    names = []
    for i in range(RECORDINGS):
        coach = "ana" if i % 2 == 0 else "ben"
        (inbox / coach).mkdir(parents=True, exist_ok=True)
        clip(SESSION1 if i % 2 == 0 else SESSION2, inbox / coach / f"week {i:02d}.mp3", 6 * (i // 2), 6)
        names.append(f"{coach}/week {i:02d}.mp3")
    config = tmp_path / "config.yaml"
    config.write_text(FAST_CONFIG.replace("max_attempts: 2", "max_attempts: 3")
                      + "  heartbeat_seconds: 1\n  stale_after_minutes: 0.1\n")
    prefect = PrefectOnLoopback(tmp_path / "prefect")
    try:
        prefect.start()
        prefect.deploy(inbox, out, config, "inbox")
        prefect.worker("machine-a")
        supervisor_b = prefect.worker("machine-b")

        # Fault 1: the flow-run process holding a claim on machine A is killed.
        first = wait_for(lambda: _held_by(out, "machine-a"), timeout=300, step=0.3)
        assert first, prefect.logs()
        os.kill(int(first.claimed_by.rsplit(":", 1)[1]), signal.SIGKILL)

        # Fault 2: machine B's `prefect worker` is killed while its scan holds a recording.
        second = wait_for(lambda: _held_by(out, "machine-b", {first.sha256}), timeout=300, step=0.3)
        assert second, prefect.logs()
        [worker] = [p for p in processes_of_host("machine-b") if "prefect worker start" in command_line(p)]
        os.kill(worker, signal.SIGKILL)
        assert wait_for(lambda: supervisor_b.poll() is not None, timeout=15)  # its unit's main process ends ...
        prefect.worker("machine-b")  # ... and Restart=on-failure starts it again

        def all_done():
            rows = ledger_rows(out)
            return len(rows) == RECORDINGS and all(r.status in ("done", "failed") for r in rows) and rows

        rows = wait_for(all_done, timeout=900, step=2)
        assert rows, ([(r.source_path, r.status) for r in ledger_rows(out)], prefect.logs())
        assert {r.source_path: r.status for r in rows} == {name: "done" for name in names}
        assert {r.session_id for r in rows} == {f"week {i:02d}" for i in range(RECORDINGS)}
        assert sorted(p.parent.name for p in out.glob("*/session.json")) == sorted(r.session_id for r in rows)
        archived = sorted(p.relative_to(inbox / "archive").as_posix() for p in (inbox / "archive").rglob("*.mp3"))
        assert archived == sorted(names)  # each original once, under its own name (no ' (2)' copies)
        assert [p for p in inbox.rglob("*") if p.is_file() and "archive" not in p.parts] == []
        from mifidelity.service.ledger import Ledger, default_database_url

        ledger = Ledger(default_database_url(out))
        try:
            drops = [(d.source_path, d.outcome) for d in ledger.drops()]
        finally:
            ledger.close()
        assert sorted(drops) == sorted((name, "archived") for name in names)
        killed = next(r for r in rows if r.sha256 == first.sha256)
        assert killed.claimed_by != first.claimed_by  # finished by another scan than the killed one

        prefect.stop_workers()  # SIGTERM: the scans end, then the workers
        time.sleep(2)  # the last states reach the server
        runs = prefect.all_runs()
        unfinished = [run for run in runs if run[3] and run[2] not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")]
        assert unfinished == [], unfinished
        assert prefect.flow_run_states([first.flow_run_id])[first.flow_run_id] == "CRASHED"
    finally:
        prefect.stop()
