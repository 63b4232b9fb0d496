"""The inbox run's state machine without Prefect: a fake `submit` stands in for the task, files are a few bytes.

Processing is a stub (nothing is decoded), so every case runs in milliseconds.
The slow tests in tests/flows/test_watch_inbox*.py run the same machine under Prefect on real audio.
"""

import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from mifidelity.audio import file_sha256
from mifidelity.config import PipelineConfig
from mifidelity.errors import MifidelityError
from mifidelity.service.inbox_run import (
    AttemptsExhausted, attempt_recording, is_transient, prepare_folders, run_inbox, session_id_candidates,
)
from mifidelity.service.ledger import Ledger, Status, default_database_url


def _config(**inbox) -> PipelineConfig:
    settings = {"stable_seconds": 0, "interval": 2, "retry_delays": [0], "max_attempts": 3, **inbox}
    return PipelineConfig.model_validate({"inbox": settings})


def _drop(path: Path, content: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if content is not None else f"audio of {path.name}".encode())
    return path


class FakeProcessing:
    """``submit`` for the run: each claimed recording goes through the library's `attempt_recording` at once,
    with a stub instead of the pipeline. ``errors`` are raised by the next tries, in order."""

    def __init__(self, inbox: Path, out: Path, config: PipelineConfig, errors=()):
        self.inbox, self.out, self.config = inbox, out, config
        self.errors = list(errors)
        self.calls: list[tuple[str, str | None, str, int]] = []  # (source_path, coach, session_id, attempts)

    def process(self, path: Path, entry) -> str:
        assert path == self.inbox / entry.source_path and path.is_file()
        self.calls.append((entry.source_path, entry.coach, entry.session_id, entry.attempts))
        if self.errors:
            raise self.errors.pop(0)
        folder = self.out / entry.session_id
        folder.mkdir()
        return str(folder)

    def __call__(self, sha256: str) -> Future:
        future = Future()
        try:
            future.set_result(attempt_recording(sha256, self.inbox, self.out, self.config, self.process))
        except Exception as exc:  # noqa: BLE001 - the run classifies it
            future.set_exception(exc)
        return future


@pytest.fixture
def folders(tmp_path):
    (tmp_path / "inbox").mkdir()
    return prepare_folders(tmp_path / "inbox", tmp_path / "out")


def _run(inbox: Path, out: Path, config: PipelineConfig, submit) -> dict:
    return run_inbox(inbox, out, config, submit, sleep=lambda _seconds: None).as_dict()


def _entries(out: Path):
    ledger = Ledger(default_database_url(out))
    try:
        return ledger.all()
    finally:
        ledger.close()


def test_stable_recording_is_claimed_submitted_once_and_archived(folders):
    inbox, out = folders
    config = _config()
    original = _drop(inbox / "ana" / "week 1.mp3").read_bytes()
    processing = FakeProcessing(inbox, out, config)
    report = _run(inbox, out, config, processing)
    assert report["registered"] == ["ana/week 1.mp3"] and report["processed"] == ["ana/week 1.mp3"]
    assert processing.calls == [("ana/week 1.mp3", "ana", "week 1", 1)]
    assert (inbox / "archive" / "ana" / "week 1.mp3").read_bytes() == original
    assert not (inbox / "ana" / "week 1.mp3").exists()
    [entry] = _entries(out)
    assert (entry.status, entry.attempts, entry.output_folder) == (Status.DONE, 1, str(out / "week 1"))
    assert entry.moved_to == "archive/ana/week 1.mp3" and out.stat().st_mode & 0o777 == 0o700
    # A second run finds nothing to do and submits nothing.
    again = _run(inbox, out, config, processing)
    assert not any(again.values()) and len(processing.calls) == 1


def test_transient_failure_is_retried_until_max_attempts_then_failed(folders):
    inbox, out = folders
    config = _config(max_attempts=3)
    original = _drop(inbox / "b.mp3").read_bytes()
    processing = FakeProcessing(inbox, out, config, errors=[RuntimeError("out of file handles")] * 5)
    report = _run(inbox, out, config, processing)
    assert [attempts for *_, attempts in processing.calls] == [1, 2, 3]  # never a fourth try
    assert report["requeued"] == ["b.mp3", "b.mp3"] and report["failed"] == ["b.mp3"]
    assert report["processed"] == []
    [entry] = _entries(out)
    assert (entry.status, entry.attempts, entry.moved_to) == (Status.FAILED, 3, "failed/b.mp3")
    note = (inbox / "failed" / "b.mp3.error.txt").read_text()
    assert "failed 3 times; the last error was an unexpected RuntimeError: out of file handles" in note
    assert "Tries: 3" in note
    assert (inbox / "failed" / "b.mp3").read_bytes() == original
    assert not any(_run(inbox, out, config, processing).values()) and len(processing.calls) == 3


def test_transient_failure_then_success_is_processed(folders):
    inbox, out = folders
    config = _config()
    _drop(inbox / "a.mp3")
    processing = FakeProcessing(inbox, out, config, errors=[OSError("disk briefly unavailable")])
    report = _run(inbox, out, config, processing)
    assert report["requeued"] == ["a.mp3"] and report["processed"] == ["a.mp3"] and report["failed"] == []
    [entry] = _entries(out)
    assert (entry.status, entry.attempts, entry.error) == (Status.DONE, 2, None)
    assert (inbox / "archive" / "a.mp3").exists()


def test_retry_waits_for_its_back_off(folders):
    inbox, out = folders
    config = _config(retry_delays=[60.0])
    _drop(inbox / "a.mp3")
    processing = FakeProcessing(inbox, out, config, errors=[OSError("disk briefly unavailable")])
    assert _run(inbox, out, config, processing)["requeued"] == ["a.mp3"]
    assert not any(_run(inbox, out, config, processing).values())  # not due for a minute
    assert len(processing.calls) == 1 and (inbox / "a.mp3").exists()
    [entry] = _entries(out)
    assert entry.status == Status.QUEUED and "OSError" in entry.error


def test_an_error_the_user_caused_fails_at_once_with_a_hint(folders):
    inbox, out = folders
    config = _config()
    _drop(inbox / "notes.mp3", b"meeting notes, not audio\n")
    processing = FakeProcessing(inbox, out, config, errors=[MifidelityError("this is not a readable audio or video file")])
    report = _run(inbox, out, config, processing)
    assert report["failed"] == ["notes.mp3"] and report["requeued"] == [] and len(processing.calls) == 1
    note = (inbox / "failed" / "notes.mp3.error.txt").read_text()
    assert "not a readable audio or video file" in note and "plain text" in note
    assert _entries(out)[0].status == Status.FAILED


def test_already_processed_content_is_not_resubmitted(folders):
    inbox, out = folders
    config = _config()
    content = _drop(inbox / "ana" / "weekly.mp3").read_bytes()
    processing = FakeProcessing(inbox, out, config)
    _run(inbox, out, config, processing)
    _drop(inbox / "ana" / "renamed.mp3", content)  # the same recording under another name
    _drop(inbox / "ana" / "weekly.mp3", b"next week's session")  # the old name, new content
    report = _run(inbox, out, config, processing)
    assert report["duplicates"] == ["ana/renamed.mp3"] and report["processed"] == ["ana/weekly.mp3"]
    sha = _entries(out)[1].sha256
    assert [call[2] for call in processing.calls] == ["weekly", f"weekly-{sha[:8]}"]
    assert "already processed" in (inbox / "archive" / "ana" / "renamed.mp3.duplicate.txt").read_text()
    assert (inbox / "archive" / "ana" / "weekly (2).mp3").read_bytes() == b"next week's session"


def test_a_second_copy_waits_while_the_first_is_queued(folders):
    inbox, out = folders
    config = _config(max_concurrency=1)
    content = _drop(inbox / "a" / "first.mp3").read_bytes()
    _drop(inbox / "b" / "copy.mp3", content)
    processing = FakeProcessing(inbox, out, config)
    report = _run(inbox, out, config, processing)
    assert len(processing.calls) == 1 and report["processed"] == ["a/first.mp3"]
    assert report["duplicates"] == ["b/copy.mp3"]


def test_unfinished_and_unreadable_files_are_never_submitted(folders):
    inbox, out = folders
    processing = FakeProcessing(inbox, out, _config())
    _drop(inbox / "copying.mp3")
    _drop(inbox / "empty.mp3", b"")
    _drop(inbox / "consent form.pdf", b"%PDF-1.4")
    (inbox / "link.mp3").symlink_to(inbox / "copying.mp3")
    report = _run(inbox, out, _config(stable_seconds=60), processing)  # all were written just now
    assert report["waiting"] == ["consent form.pdf", "copying.mp3", "empty.mp3"]
    assert report["refused"] == ["link.mp3"] and processing.calls == [] and _entries(out) == []
    assert (inbox / "failed" / "link.mp3").is_symlink() and (inbox / "copying.mp3").exists()
    report = _run(inbox, out, _config(), processing)  # now quiet for long enough
    assert report["refused"] == ["consent form.pdf", "empty.mp3"] and report["processed"] == ["copying.mp3"]
    assert [call[0] for call in processing.calls] == ["copying.mp3"]
    assert "empty (0 bytes)" in (inbox / "failed" / "empty.mp3.error.txt").read_text()


class SlowAttempt:
    """A try that is still running until the run has polled it twice."""

    def __init__(self, future: Future):
        self.future, self.polls = future, 0

    def done(self) -> bool:
        return self.polls >= 2

    def result(self) -> str:
        return self.future.result()


def test_concurrency_is_bounded(folders):
    inbox, out = folders
    config = _config(max_concurrency=2)
    for i in range(5):
        _drop(inbox / f"s{i}.mp3")
    processing = FakeProcessing(inbox, out, config)
    attempts, running_at_submit = [], []

    def submit(sha256: str) -> SlowAttempt:
        attempts.append(SlowAttempt(processing(sha256)))
        running_at_submit.append(sum(not a.done() for a in attempts))
        return attempts[-1]

    def sleep(_seconds: float) -> None:
        for attempt in attempts:
            attempt.polls += 1

    report = run_inbox(inbox, out, config, submit, sleep=sleep).as_dict()
    assert sorted(report["processed"]) == [f"s{i}.mp3" for i in range(5)]
    assert max(running_at_submit) == 2 and len(processing.calls) == 5


def test_a_run_killed_mid_recording_is_completed_by_the_next(folders):
    inbox, out = folders
    _drop(inbox / "long one.mp3")

    def killed(_sha256: str):
        raise KeyboardInterrupt  # the watcher dies while the recording is being processed

    with pytest.raises(KeyboardInterrupt):  # on another machine
        run_inbox(inbox, out, _config(), killed, sleep=lambda _seconds: None, owner="machine-a:4242")
    [entry] = _entries(out)
    assert entry.status == Status.PROCESSING and (inbox / "long one.mp3").exists()
    config = _config(stale_after_minutes=0.001, heartbeat_seconds=0.02)  # no heartbeat since: as if its machine died
    time.sleep(0.1)
    processing = FakeProcessing(inbox, out, config)
    report = _run(inbox, out, config, processing)
    assert report["recovered"] == [entry.sha256] and report["processed"] == ["long one.mp3"]
    assert processing.calls == [("long one.mp3", None, "long one", 1)]
    assert _entries(out)[0].status == Status.DONE and (inbox / "archive" / "long one.mp3").exists()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("holder_alive", [False, True])
def test_claim_of_a_process_on_this_host_is_recovered_only_once_it_is_gone(folders, holder_alive):
    inbox, out = folders
    config = _config()  # a lease of hours: only the holder's death frees the claim
    sha = file_sha256(_drop(inbox / "a.mp3"))
    ledger = Ledger(default_database_url(out))
    try:
        ledger.register(sha, "a.mp3", None, ["a"])
        holder = os.getpid() if holder_alive else _dead_pid()
        assert ledger.claim(sha, f"{socket.gethostname()}:{holder}")
    finally:
        ledger.close()
    processing = FakeProcessing(inbox, out, config)
    report = _run(inbox, out, config, processing)
    if holder_alive:  # another watcher is on it: leave it alone
        assert report["recovered"] == [] and processing.calls == [] and (inbox / "a.mp3").exists()
        assert _entries(out)[0].status == Status.PROCESSING
    else:
        assert report["recovered"] == [sha] and processing.calls == [("a.mp3", None, "a", 1)]
        assert _entries(out)[0].status == Status.DONE


def test_last_try_is_marked_so_that_it_is_not_retried():
    exhausted = pickle.loads(pickle.dumps(AttemptsExhausted(RuntimeError("boom"))))  # as a task's state may hold it
    assert isinstance(exhausted.error, RuntimeError) and str(exhausted) == "RuntimeError: boom"
    assert not is_transient(exhausted) and not is_transient(MifidelityError("bad file"))
    assert is_transient(OSError("disk briefly unavailable"))


def test_attempt_raises_the_error_until_the_last_try(folders):
    inbox, out = folders
    config = _config(max_attempts=2)
    sha = file_sha256(_drop(inbox / "a.mp3"))
    ledger = Ledger(default_database_url(out))
    try:
        ledger.register(sha, "a.mp3", None, ["a"])
    finally:
        ledger.close()

    def broken(_path, _entry):
        raise RuntimeError("out of file handles")

    with pytest.raises(RuntimeError):
        attempt_recording(sha, inbox, out, config, broken)
    with pytest.raises(AttemptsExhausted) as caught:
        attempt_recording(sha, inbox, out, config, broken)
    assert isinstance(caught.value.error, RuntimeError)
    (inbox / "a.mp3").unlink()
    with pytest.raises(MifidelityError, match="disappeared"):
        attempt_recording(sha, inbox, out, config, broken)


def test_session_ids_come_from_the_file_name():
    sha = "ab" * 32
    assert session_id_candidates("ana/week 1.mp3", sha)[:2] == ["week 1", "week 1-abababab"]
    assert session_id_candidates("ana/.mp3", sha)[0] == "session"
    assert session_id_candidates("odd\x01name.wav", sha)[0] == "odd_name"


def test_archived_original_keeps_its_report_player(folders):
    """The static report.html plays the original from INBOX/archive/ after the move, as the portal does: the
    report is written again from the session's files (outputs.reading), not edited."""
    import re

    from mifidelity.outputs import write_session
    from support.reports import coded_session

    inbox, out = folders
    config = _config()
    _drop(inbox / "ana" / "week 2.wav")

    class WritesSession(FakeProcessing):
        def process(self, path: Path, entry) -> str:
            rows = [("coach", "What brings you here today?", "open"), ("client", "My drinking.", "neutral")]
            return str(write_session(coded_session(rows, session_id=entry.session_id, source=str(path)), self.out))

    _run(inbox, out, config, WritesSession(inbox, out, config))
    html = (out / "week 2" / "report.html").read_text(encoding="utf-8")
    [src] = re.findall(r'<audio id="player"[^>]*src="([^"]*)"', html)
    assert src == "../../inbox/archive/ana/week%202.wav"
    assert (out / "week 2" / "../../inbox/archive/ana/week 2.wav").resolve() == (inbox / "archive" / "ana" / "week 2.wav").resolve()
    assert (inbox / "archive" / "ana" / "week 2.wav").read_bytes() == b"audio of week 2.wav"


def test_a_report_that_cannot_be_written_again_leaves_the_archive_as_it_is(folders, caplog):
    """The session's table is missing (formats without csv): the original is archived all the same and the
    run says why the report still points at the inbox."""
    from mifidelity.outputs import write_session
    from support.reports import coded_session

    inbox, out = folders
    config = _config()
    _drop(inbox / "ana" / "week 3.wav")

    class WritesReportOnly(FakeProcessing):
        def process(self, path: Path, entry) -> str:
            session = coded_session([("coach", "How are you?", "open")], session_id=entry.session_id, source=str(path))
            return str(write_session(session, self.out, formats=["json", "html"]))

    report = _run(inbox, out, config, WritesReportOnly(inbox, out, config))
    assert report["processed"] == ["ana/week 3.wav"] and (inbox / "archive" / "ana" / "week 3.wav").is_file()
    assert "could not write the report of ana/week 3.wav again" in caplog.text and "FileNotFoundError" in caplog.text
    [entry] = _entries(out)
    assert (entry.status, entry.moved_to) == (Status.DONE, "archive/ana/week 3.wav")


class RunsFor:
    """A try that takes ``seconds`` of real time (a long recording, scaled down)."""

    def __init__(self, future: Future, seconds: float):
        self.future, self.ends = future, time.monotonic() + seconds

    def done(self) -> bool:
        return time.monotonic() >= self.ends

    def result(self) -> str:
        return self.future.result()


def test_a_live_worker_keeps_its_claim_on_a_long_recording(folders):
    """Scaled down: heartbeat every 0.1 s, stale after 0.6 s, and a recording that takes 2.5 s (4 stale periods).

    Meanwhile another machine recovers abandoned claims every 0.05 s; it must never take this one.
    """
    inbox, out = folders
    config = _config(heartbeat_seconds=0.1, stale_after_minutes=0.01)
    _drop(inbox / "long.mp3")
    processing = FakeProcessing(inbox, out, config)
    taken, stop = [], threading.Event()

    def other_machine():
        ledger = Ledger(default_database_url(out))
        try:
            while not stop.wait(0.05) and not taken:  # one take-over is enough to fail
                taken.extend(ledger.recover_abandoned(config.inbox.stale_after_minutes * 60, host="machine-b"))
        finally:
            ledger.close()

    watcher = threading.Thread(target=other_machine)
    watcher.start()
    try:
        report = run_inbox(inbox, out, config, lambda sha: RunsFor(processing(sha), 2.5), poll_seconds=0.05).as_dict()
    finally:
        stop.set()
        watcher.join()
    assert taken == [] and report["processed"] == ["long.mp3"] and report["recovered"] == []
    assert len(processing.calls) == 1 and _entries(out)[0].status == Status.DONE


def test_a_stopped_run_gives_its_claim_back(folders):
    inbox, out = folders
    config = _config()
    _drop(inbox / "a.mp3")
    processing = FakeProcessing(inbox, out, config)
    sleeps = []

    def stopped_while_waiting(_seconds: float) -> None:
        sleeps.append(_seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt  # SIGTERM, as Prefect's engine raises it in the flow

    with pytest.raises(KeyboardInterrupt):
        run_inbox(inbox, out, config, lambda sha: RunsFor(processing(sha), 3600), sleep=stopped_while_waiting)
    [entry] = _entries(out)
    assert (entry.status, entry.claimed_by, entry.attempts) == (Status.QUEUED, None, 0)  # the stop costs no try
    assert entry.next_attempt_at is None and (inbox / "a.mp3").exists()


def test_claims_taken_from_dead_holders_are_reported_and_an_outlived_claim_is_left_alone(folders):
    inbox, out = folders
    config = _config(heartbeat_seconds=0.02, stale_after_minutes=0.001)
    sha = file_sha256(_drop(inbox / "a.mp3"))
    ledger = Ledger(default_database_url(out))
    try:
        ledger.register(sha, "a.mp3", None, ["a"])
        assert ledger.claim(sha, "machine-a:1", flow_run_id="run-of-machine-a")
    finally:
        ledger.close()
    time.sleep(0.1)
    abandoned = []
    processing = FakeProcessing(inbox, out, config)
    report = run_inbox(inbox, out, config, processing, sleep=lambda _s: None, abandoned=abandoned.extend,
                       flow_run_id="run-of-machine-b").as_dict()
    assert [(e.sha256, e.flow_run_id) for e in abandoned] == [(sha, "run-of-machine-a")]
    assert report["processed"] == ["a.mp3"]

    # A worker that looked dead (its claim was taken back) finishes anyway: it must not touch the outcome.
    _drop(inbox / "b.mp3")
    late = []

    def taken_back_meanwhile(sha256: str) -> Future:
        book = Ledger(default_database_url(out))
        try:
            book.release(sha256, book.get(sha256).claimed_by, "taken back")
            book.claim(sha256, "machine-c:7")
        finally:
            book.close()
        late.append(sha256)
        return processing(sha256)

    report = run_inbox(inbox, out, config, taken_back_meanwhile, sleep=lambda _s: None).as_dict()
    row = next(e for e in _entries(out) if e.sha256 == late[0])
    assert (row.status, row.claimed_by) == (Status.PROCESSING, "machine-c:7") and report["processed"] == []
    assert (inbox / "b.mp3").exists()
