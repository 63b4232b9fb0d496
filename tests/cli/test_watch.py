"""`mifidelity watch` as a real served Prefect deployment: the issue's "done when", and a crash mid-recording."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT
from support.flows import FAST_CONFIG, require_working_scheduler, wait_for
from support.media import SESSION1, clip, snapshot, text_named_mp3, truncate

pytestmark = pytest.mark.slow

WATCH_CONFIG = FAST_CONFIG.replace("stable_seconds: 0", "stable_seconds: 1")


def _start(inbox: Path, out: Path, config: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)
    handle = open(log, "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "mifidelity.cli", "watch", str(inbox), "--out", str(out), "--interval", "3",
         "--config", str(config)],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
    )


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)  # the watcher and its own children (flow runs, local server)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _transcript_lines(out: Path) -> list[str]:
    lines = []
    for transcript in out.glob("*/transcript.txt"):
        for line in transcript.read_text().splitlines():
            text = line.split(": ", 1)[-1].strip()
            if len(text) >= 25:
                lines.append(text)
    return lines


def test_done_when(tmp_path):
    require_working_scheduler()
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    (inbox / "maria").mkdir(parents=True)
    good = clip(SESSION1, inbox / "maria" / "session 12.mp3", 0, 20)
    (inbox / "maria" / "copy of session 12.mp3").write_bytes(good.read_bytes())
    (inbox / "empty.mp3").write_bytes(b"")
    text_named_mp3(inbox / "maria" / "notes.mp3")
    truncate(good, inbox / "maria" / "cut.mp3", 0.4)
    originals = snapshot(inbox)
    config = tmp_path / "config.yaml"
    config.write_text(WATCH_CONFIG)
    log = tmp_path / "watch.log"

    watcher = _start(inbox, out, config, log)
    try:
        def settled():
            failed = list((inbox / "failed").rglob("*.error.txt")) if (inbox / "failed").exists() else []
            archived = [p for p in (inbox / "archive").rglob("*.mp3")] if (inbox / "archive").exists() else []
            return len(failed) == 3 and len(archived) == 2

        assert wait_for(settled, timeout=420), log.read_text(errors="replace")[-4000:]
        assert watcher.poll() is None, "the watcher stopped"
        sessions = list(out.glob("*/session.json"))
        assert len(sessions) == 1
        assert json.loads(sessions[0].read_text())["coach"] == "maria"
        for bad in ("empty.mp3", "maria/notes.mp3", "maria/cut.mp3"):
            assert (inbox / "failed" / bad).exists() and (inbox / "failed" / f"{bad}.error.txt").exists()
        after = snapshot(inbox)
        assert all(after[name] == data for name, data in originals.items())  # all five, byte for byte
        wait_for(lambda: False, timeout=7)  # a couple more scans of a settled inbox
        assert watcher.poll() is None, "the watcher stopped"
        assert len(list(out.glob("*/session.json"))) == 1
    finally:
        _stop(watcher)
    logs = log.read_text(errors="replace")
    leaked = [line for line in _transcript_lines(out) if line in logs]
    assert leaked == [], "transcript text in the watcher's log"


def test_killed_mid_recording_is_completed_after_restart(tmp_path):
    require_working_scheduler()
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    clip(SESSION1, inbox / "long one.mp3", 0, 75)
    config = tmp_path / "config.yaml"
    config.write_text(WATCH_CONFIG.replace("coding: {engine: rules}", "coding: {engine: rules}\ncache: {enabled: false}"))
    log = tmp_path / "watch.log"

    def status():
        try:
            with sqlite3.connect(out / ".ledger.sqlite") as db:
                row = db.execute("select status, attempts from recordings").fetchone()
                return row
        except sqlite3.Error:
            return None

    watcher = _start(inbox, out, config, log)
    try:
        assert wait_for(lambda: (status() or ("",))[0] == "processing", timeout=240, step=0.2), \
            log.read_text(errors="replace")[-3000:]
        wait_for(lambda: False, timeout=2)
    finally:
        _stop(watcher, signal.SIGKILL)
    assert status()[0] == "processing"
    assert (inbox / "long one.mp3").exists()
    assert not (out / "long one" / "session.json").exists()  # no half-written session that looks complete

    watcher = _start(inbox, out, config, log)
    try:
        assert wait_for(lambda: (inbox / "archive" / "long one.mp3").exists(), timeout=420), \
            log.read_text(errors="replace")[-3000:]
        assert watcher.poll() is None
    finally:
        _stop(watcher)
    state, attempts = status()
    assert state == "done" and attempts >= 2
    assert {p.name for p in (out / "long one").iterdir()} >= {"session.json", "report.html", "transcript.txt"}
    assert not list(out.glob(".*partial"))
