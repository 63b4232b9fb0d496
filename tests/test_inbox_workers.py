"""Beyond one machine: a real Prefect server on loopback, a process work pool, two workers, one shared inbox.

Both workers run scans of the same inbox and ledger; each recording is claimed
once, and two recordings are processed at the same time by different workers.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from test_inbox_media import FAST_CONFIG, ROOT, SESSION1, SESSION2, clip, wait_for

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
    from test_inbox_watch import _require_working_scheduler
    from mifidelity.ledger import Ledger, default_database_url
    from mifidelity.watch_cli import _free_port

    _require_working_scheduler()
    inbox, out, state = tmp_path / "inbox", tmp_path / "out", tmp_path / "prefect"
    inbox.mkdir()
    state.mkdir()
    clip(SESSION1, inbox / "first.mp3", 0, 25)
    clip(SESSION2, inbox / "second.ogg", 0, 25)
    config = tmp_path / "config.yaml"
    config.write_text(FAST_CONFIG + "cache: {enabled: false}\n")  # max_concurrency 1: one recording per scan

    port = _free_port()
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
            [sys.executable, "-m", "mifidelity.watch_cli", "watch-deploy", str(inbox), "--out", str(out),
             "--pool", "mifidelity", "--interval", "2", "--config", str(config)],
        ):
            done = subprocess.run(command, env=client_env, capture_output=True, text=True, cwd=ROOT)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        workers = [_spawn([*prefect, "worker", "start", "--pool", "mifidelity", "--name", f"worker-{i}",
                           "--type", "process", "--limit", "1"], client_env, tmp_path / f"worker{i}.log") for i in (1, 2)]
        processes += workers

        def both_done():
            if not (out / ".ledger.sqlite").exists():
                return False
            rows = Ledger(default_database_url(out)).all()
            return len(rows) == 2 and all(r.status == "done" for r in rows) and rows

        rows = wait_for(both_done, timeout=600, step=2)
        logs = "".join((tmp_path / f"worker{i}.log").read_text(errors="replace")[-2000:] for i in (1, 2))
        assert rows, logs
        worker_pids = {f":{w.pid}" for w in workers}
        used = {row.worker[row.worker.rindex(":"):] for row in rows}
        assert used == worker_pids, (used, worker_pids)  # one recording per worker
        a, b = rows
        assert a.started_at < b.finished_at and b.started_at < a.finished_at  # at the same time
        assert (inbox / "archive" / "first.mp3").exists() and (inbox / "archive" / "second.ogg").exists()
    finally:
        for process in reversed(processes):
            _stop(process)


def _healthy(httpx, port) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
