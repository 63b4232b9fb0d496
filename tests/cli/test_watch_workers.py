"""Beyond one machine: a real Prefect server on loopback, a process work pool, two workers, one shared inbox.

Both workers run scans of the same inbox and ledger; each recording is claimed
once, and two recordings are processed at the same time by different workers.

Decoding is held back by an ffmpeg wrapper until the test releases it, so neither
recording can finish before both are claimed. Without the gate the first run could
finish its recording and claim the second one itself before the other worker's run
had started, which made the test depend on how busy the machine was.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT
from support.flows import FAST_CONFIG, wait_for
from support.media import SESSION1, SESSION2, clip
from support.workers import ledger_rows, write_wrapped_tools

pytestmark = pytest.mark.slow


def _spawn(args, env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_two_workers_process_two_recordings_in_parallel(tmp_path):
    from support.flows import require_working_scheduler
    from mifidelity.service.ledger import Status
    from mifidelity.service.prefect_server import free_port

    require_working_scheduler()
    inbox, out, state = tmp_path / "inbox", tmp_path / "out", tmp_path / "prefect"
    inbox.mkdir()
    state.mkdir()
    clip(SESSION1, inbox / "first.mp3", 0, 25)
    clip(SESSION2, inbox / "second.ogg", 0, 25)
    release = tmp_path / "release"
    gate = tmp_path / "gate"
    gate.mkdir()
    _write_gated_tools(gate, release)
    config = tmp_path / "config.yaml"
    # max_concurrency 1: one recording at a time per run, so the second needs the other worker
    config.write_text(FAST_CONFIG + f"cache: {{enabled: false}}\naudio: {{ffmpeg: '{gate / 'ffmpeg'}'}}\n")

    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(state), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_UI_ENABLED": "false", "PYTHONUNBUFFERED": "1",
           "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{state / 'server.db'}"}
    env.pop("PREFECT_API_URL", None)
    processes = [_spawn([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                         "--port", str(port), "--no-ui"], env, tmp_path / "server.log")]
    client_env = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "PREFECT_RUNNER_POLL_FREQUENCY": "2",
                  "PREFECT_WORKER_QUERY_SECONDS": "2"}
    try:
        import httpx

        assert wait_for(lambda: _healthy(httpx, port), timeout=120), (tmp_path / "server.log").read_text()[-3000:]
        prefect = [sys.executable, "-m", "prefect"]
        for command in (
            [*prefect, "work-pool", "create", "mifidelity", "--type", "process"],
            [sys.executable, "-m", "mifidelity.cli", "watch-deploy", str(inbox), "--out", str(out),
             "--pool", "mifidelity", "--interval", "2", "--config", str(config)],
        ):
            done = subprocess.run(command, env=client_env, capture_output=True, text=True, cwd=ROOT)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        workers = [_spawn([*prefect, "worker", "start", "--pool", "mifidelity", "--name", f"worker-{i}",
                           "--type", "process", "--limit", "1"], client_env, tmp_path / f"worker{i}.log") for i in (1, 2)]
        processes += workers

        def logs():
            return "".join((tmp_path / f"worker{i}.log").read_text(errors="replace")[-2000:] for i in (1, 2))

        # Neither recording can finish before the release, so both being in processing at once
        # means two runs hold one each.
        claimed = wait_for(lambda: _both_in(out, Status.PROCESSING), timeout=300, step=1)
        assert claimed, logs()
        worker_pids = {f":{w.pid}" for w in workers}
        used = {row.worker[row.worker.rindex(":"):] for row in claimed}
        assert used == worker_pids, (used, worker_pids)  # one recording per worker
        release.touch()
        rows = wait_for(lambda: _both_in(out, Status.DONE), timeout=600, step=2)
        assert rows, logs()
        assert {row.worker for row in rows} == {row.worker for row in claimed}  # nobody took one over
        a, b = rows
        assert a.started_at < b.finished_at and b.started_at < a.finished_at  # at the same time
        assert (inbox / "archive" / "first.mp3").exists() and (inbox / "archive" / "second.ogg").exists()
    finally:
        for process in reversed(processes):
            _stop(process)


def _both_in(out: Path, status: str):
    """The two ledger rows once both have STATUS, else None."""
    rows = ledger_rows(out)
    return rows if len(rows) == 2 and all(r.status == status for r in rows) else None


def _write_gated_tools(folder: Path, release: Path) -> None:
    """ffmpeg that waits until RELEASE exists (at most 10 minutes), and ffprobe beside it, as the pipeline expects."""
    write_wrapped_tools(folder, f"for i in $(seq 3000); do [ -e '{release}' ] && break; sleep 0.2; done")


def _healthy(httpx, port) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
