"""Two machines simulated on one (issue 29): a worker stopped with SIGTERM, a machine killed outright; and a
`mifidelity watch` stopped with SIGTERM.

Each worker claims to be a machine through ``MIFIDELITY_HOST``; the ledger
knows claims by that name, so a claim of "another machine" cannot be recovered
by looking up its process id: only its heartbeat says it is alive. A worker on a
host named ``stuck-*`` hangs in decoding (its ffmpeg never returns), so it holds
its claim as long as the test needs.

Scaled down from the defaults (heartbeat 15 s, stale after 2 min): the heartbeat
is 1 s and a claim is stale after 6 s; scans run every 2 s.
"""

import os
import signal
import sys
import time

import pytest

from mifidelity_flows.watch_inbox import STOPPED_MESSAGE
from support.flows import FAST_CONFIG, require_working_scheduler, wait_for
from support.media import SESSION1, clip
from support.workers import (
    PrefectOnLoopback, command_line, group_members, kill_host, ledger_rows, processes_of_host, spawn, stop_group,
    write_tools_stuck_on_some_hosts,
)

pytestmark = pytest.mark.slow

STALE_AFTER_SECONDS = 6


@pytest.fixture(scope="module")
def machines(tmp_path_factory):
    """A Prefect server with the `watch-inbox` deployment on a work pool; one recording in the inbox."""
    require_working_scheduler()
    root = tmp_path_factory.mktemp("machines")
    inbox, out = root / "inbox", root / "out"
    inbox.mkdir()
    clip(SESSION1, inbox / "session.mp3", 0, 12)
    ffmpeg = write_tools_stuck_on_some_hosts(root / "tools")
    config = root / "config.yaml"
    config.write_text(FAST_CONFIG.replace("max_attempts: 2", "max_attempts: 3")
                      + f"  heartbeat_seconds: 1\n  stale_after_minutes: {STALE_AFTER_SECONDS / 60}\n"
                      + f"cache: {{enabled: false}}\naudio: {{ffmpeg: '{ffmpeg}'}}\n")
    prefect = PrefectOnLoopback(root / "prefect")
    try:
        prefect.start()
        prefect.deploy(inbox, out, config, "inbox")
        yield prefect, inbox, out
    finally:
        prefect.stop()


def _row(out):
    rows = ledger_rows(out)
    return rows[0] if rows else None


def _claimed_by(out, host):
    row = _row(out)
    return row if row and row.status == "processing" and (row.claimed_by or "").startswith(f"{host}:") else None


def test_a_stopped_worker_gives_its_claim_back_and_exits_within_10_s(machines):
    prefect, _inbox, out = machines
    worker = prefect.worker("stuck-1")
    held = wait_for(lambda: _claimed_by(out, "stuck-1"), timeout=180, step=0.5)
    assert held, prefect.logs()
    time.sleep(2)  # well inside the recording
    os.kill(worker.pid, signal.SIGTERM)  # `docker stop`, or systemd with KillMode=mixed: the main process only
    began = time.monotonic()
    assert wait_for(lambda: not processes_of_host("stuck-1"), timeout=10, step=0.2), \
        ([command_line(p) for p in processes_of_host("stuck-1")], prefect.logs())
    stopped_after = time.monotonic() - began
    row = _row(out)
    assert (row.status, row.claimed_by) == ("queued", None), row  # given back, not left to go stale
    assert row.attempts == 0  # the stop did not cost the recording a try
    # The run recorded its own end before it exited: the worker that would report it is gone.
    states = prefect.flow_run_states([held.flow_run_id])
    assert states[held.flow_run_id] == "CRASHED" and "RUNNING" not in states.values(), states
    assert STOPPED_MESSAGE in prefect.state_message(held.flow_run_id)
    # and its last words reached the server before it ended
    assert any("queued again for the next scan" in m for m in prefect.log_messages(held.flow_run_id)), \
        prefect.log_messages(held.flow_run_id)
    print(f"worker stopped {stopped_after:.1f} s after SIGTERM")


def test_a_killed_machine_s_recording_is_finished_by_the_other_within_3_minutes(machines):
    prefect, inbox, out = machines
    prefect.worker("stuck-2")
    held = wait_for(lambda: _claimed_by(out, "stuck-2"), timeout=180, step=0.5)
    assert held, prefect.logs()
    prefect.worker("machine-b")
    time.sleep(STALE_AFTER_SECONDS + 2)  # machine B is scanning, and must leave a live claim alone
    assert _claimed_by(out, "stuck-2"), _row(out)
    assert kill_host("stuck-2") >= 2  # the worker and its flow run, at least
    killed_at = time.monotonic()

    done = wait_for(lambda: (r := _row(out)) is not None and r.status in ("done", "failed") and r, timeout=180, step=1)
    assert done and done.status == "done", (_row(out), prefect.logs())
    took = time.monotonic() - killed_at
    assert done.worker.startswith("machine-b:") and (inbox / "archive" / "session.mp3").exists()
    assert took < 180
    # The killed run is not left RUNNING in Prefect: the scan that took the claim back marked it (and its
    # nested process-recording run) Crashed.
    states = prefect.flow_run_states([held.flow_run_id])
    assert states[held.flow_run_id] == "CRASHED" and all(s in ("CRASHED", "COMPLETED", "FAILED")
                                                          for s in states.values()), states
    print(f"recording finished by machine-b {took:.0f} s after machine stuck-2 was killed")


def test_a_stopped_watch_gives_its_claim_back_and_exits_within_10_s(tmp_path):
    """`mifidelity watch` on one machine, sent SIGTERM while it holds a recording (its own local Prefect server)."""
    require_working_scheduler()
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    clip(SESSION1, inbox / "session.mp3", 0, 12)
    ffmpeg = write_tools_stuck_on_some_hosts(tmp_path / "tools")
    config = tmp_path / "config.yaml"
    config.write_text(FAST_CONFIG + f"cache: {{enabled: false}}\naudio: {{ffmpeg: '{ffmpeg}'}}\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)
    watcher = spawn([sys.executable, "-m", "mifidelity.cli", "watch", str(inbox), "--out", str(out), "--interval", "2",
                     "--config", str(config), "--machine", "stuck-watch"], env, tmp_path / "watch.log")
    try:
        held = wait_for(lambda: _claimed_by(out, "stuck-watch"), timeout=180, step=0.5)
        assert held, (tmp_path / "watch.log").read_text(errors="replace")[-3000:]
        time.sleep(2)
        os.kill(watcher.pid, signal.SIGTERM)
        began = time.monotonic()
        # Every Python process of the watcher (itself, its Prefect server, the flow run) is gone within 10 s.
        assert wait_for(lambda: not [p for p in group_members(watcher.pid) if "python" in command_line(p)],
                        timeout=10, step=0.2), [command_line(p) for p in group_members(watcher.pid)]
        print(f"watch stopped {time.monotonic() - began:.1f} s after SIGTERM")
        row = _row(out)
        assert (row.status, row.claimed_by, row.attempts) == ("queued", None, 0), row
    finally:
        stop_group(watcher, signal.SIGKILL)
