"""One run of the inbox watcher as plain Python: scan, register, claim, process, move originals away.

A run scans the inbox, registers each finished copy in the ledger (keyed by the
SHA-256 of its content), hands queued recordings to ``submit`` with bounded
concurrency, and moves each original to ``INBOX/archive/`` or ``INBOX/failed/``
(with ``<name>.error.txt``). The report of an archived original is written again
from the session's files with the archive as its recording's place
(:func:`mifidelity.outputs.reading.rewrite_report`), so its player keeps playing
it. While recordings are being processed the run keeps rescanning, so new drops
are registered; it ends when nothing is left to do.

Every claim the run holds is renewed by a :class:`~mifidelity.service.claims.ClaimKeeper`
while its recording is processed, and each rescan takes back claims whose
heartbeat stopped (another machine died). A run that is stopped (SIGTERM,
Ctrl-C) gives its claims back before it ends, so nothing waits for a lease.

Processing is injected: ``submit(sha256)`` starts one claimed recording and
returns an :class:`Attempt` (anything with ``done()`` and ``result()``, such as
a ``concurrent.futures.Future``). The Prefect flow ``watch-inbox`` submits a
task with retries; the tests submit a plain function, so the state machine runs
in milliseconds without Prefect. The clock and the pause between polls are
injected for the same reason.

Logs name files, session ids and statuses; never transcript text.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from mifidelity.audio import file_sha256
from mifidelity.config import PipelineConfig
from mifidelity.errors import MifidelityError
from mifidelity.files import private_dir
from mifidelity.outputs.reading import rewrite_report
from mifidelity.service.inbox import (
    ARCHIVE, FAILED, NOTE_SUFFIX, Candidate, content_hint, error_text, is_stable, move_original, refusal_reason, scan,
    unchanged, write_note,
)
from mifidelity.service.claims import ClaimKeeper
from mifidelity.service.ledger import DropOutcome, Ledger, LedgerEntry, Status, ledger_for, worker_id

MAX_ERROR_LENGTH = 600


class Attempt(Protocol):
    """One submitted try at a recording."""

    def done(self) -> bool:
        """True once the try has finished, well or not."""

    def result(self) -> str:
        """The session's output folder; raises what processing raised."""


Submit = Callable[[str], Attempt]
"""Start processing the claimed recording with this content hash."""

Abandoned = Callable[[list[LedgerEntry]], None]
"""Told about claims taken back from dead holders (as they were), e.g. to mark their Prefect runs crashed."""

ProcessRecording = Callable[[Path, LedgerEntry], str]
"""Turn the recording at a path (with its ledger entry: coach, session id) into a session; returns its folder."""


class AttemptsExhausted(Exception):
    """Processing failed on the recording's last allowed try, so it must not be retried.

    Wraps the error that processing raised (``error``), which is what the
    run reports.
    """

    def __init__(self, error: BaseException):
        super().__init__(error)
        self.error = error

    def __str__(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


def is_transient(error: BaseException | None) -> bool:
    """Whether trying again may help: not an error the user caused, and tries are left."""
    return not isinstance(error, (MifidelityError, AttemptsExhausted))


def attempt_recording(sha256: str, inbox: Path, out_dir: Path, config: PipelineConfig,
                      process: ProcessRecording) -> str:
    """One try at one claimed recording: count it in the ledger, then ``process`` the file.

    Raises what ``process`` raised; an unexpected error on the last allowed try
    (``inbox.max_attempts``) is raised as :class:`AttemptsExhausted`, so that no
    retry follows.
    """
    ledger = ledger_for(out_dir, config)
    try:
        ledger.start_attempt(sha256)
        entry = ledger.get(sha256)  # attempts now counts this try
    finally:
        ledger.close()
    path = Path(inbox) / entry.source_path
    if not path.is_file() or path.is_symlink():
        raise MifidelityError("the file disappeared from the inbox before it could be processed")
    try:
        return process(path, entry)
    except MifidelityError:
        raise
    except Exception as exc:
        if entry.attempts >= config.inbox.max_attempts:
            raise AttemptsExhausted(exc) from exc
        raise


def session_id_candidates(relative: str, sha256: str) -> list[str]:
    """The file's stem, or stem + a short content hash when another recording already has that name."""
    stem = Path(relative).stem.strip()
    stem = re.sub(r"[\x00-\x1f/\\]", "_", stem)
    if stem in ("", ".", "..") or stem.startswith("."):
        stem = "session"
    return [stem, f"{stem}-{sha256[:8]}", f"{stem}-{sha256[:16]}", f"{stem}-{sha256}"]


@dataclass
class CycleReport:
    """What one run did (returned by the flow; file names only)."""

    registered: list[str] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: list(v) for k, v in self.__dict__.items()}


class InboxRun:
    """The state of one run over ``inbox``, writing sessions to ``out_dir``.

    Parameters
    ----------
    submit:
        Starts one claimed recording (see :data:`Submit`).
    ledger:
        The ledger shared with other watchers; the caller closes it.
    logger:
        Where progress goes (the flow passes Prefect's run logger).
    sleep, clock, poll_seconds:
        The pause between two looks at running attempts, and the monotonic
        clock that spaces rescans.
    owner, flow_run_id:
        Who claims (default :func:`~mifidelity.service.ledger.worker_id`), and
        the Prefect run doing it (kept in the ledger beside the claim).
    abandoned:
        Called with the claims taken back from dead holders.
    """

    def __init__(self, inbox: Path, out_dir: Path, config: PipelineConfig, submit: Submit, ledger: Ledger,
                 logger: logging.Logger | logging.LoggerAdapter | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 poll_seconds: float = 0.5, owner: str | None = None, flow_run_id: str | None = None,
                 abandoned: Abandoned | None = None) -> None:
        self.inbox, self.out_dir, self.config, self.submit, self.ledger = inbox, out_dir, config, submit, ledger
        self.log = logger or logging.getLogger(__name__)
        self.sleep, self.clock, self.poll_seconds = sleep, clock, poll_seconds
        self.owner, self.flow_run_id, self.abandoned = owner or worker_id(), flow_run_id, abandoned
        self.settings = config.inbox
        self.keeper = ClaimKeeper(ledger, self.owner, self.settings.heartbeat_seconds, self.log)
        self.report = CycleReport()
        self.verified: dict[str, tuple[str, Candidate]] = {}  # relative path -> (sha256, candidate)
        self._hashes: dict[tuple, str] = {}
        self._pending: dict[str, Candidate] = {}  # sha256 -> the file being processed

    # -- scanning ------------------------------------------------------------------------------

    def rescan(self) -> None:
        self.verified = {}
        for candidate in scan(self.inbox):
            try:
                self._consider(candidate)
            except FileNotFoundError:
                continue  # moved away by someone else (another watcher) while we looked
            except Exception as exc:  # noqa: BLE001 - one odd file must not stop the watcher
                self.log.error("could not handle %s: %s", candidate.relative, type(exc).__name__)

    def _consider(self, c: Candidate) -> None:
        if c.is_symlink or not c.is_regular:
            self._refuse(c, refusal_reason(c))
            return
        if not is_stable(c, self.settings.stable_seconds):
            self.report.waiting.append(c.relative)
            return
        reason = refusal_reason(c)
        if reason:
            self._refuse(c, reason)
            return
        key = (c.relative, c.size, c.mtime_ns)
        sha = self._hashes.get(key) or file_sha256(c.path)
        if not unchanged(c):
            self.report.waiting.append(c.relative)
            return
        self._hashes[key] = sha
        entry = self.ledger.get(sha)
        if entry is None:
            entry = self.ledger.register(sha, c.relative, c.coach, self._free_session_ids(c.relative, sha))
            if entry.source_path == c.relative:
                self.report.registered.append(c.relative)
                self.log.info("queued %s as session %s", c.relative, entry.session_id)
        if entry.status in (Status.QUEUED, Status.PROCESSING):
            if (entry.source_path != c.relative and entry.status == Status.QUEUED
                    and not (self.inbox / entry.source_path).exists()):
                self.ledger.set_source(sha, c.relative, c.coach)  # the first copy went away; use this one
                entry = self.ledger.get(sha)
            if entry.source_path == c.relative:
                self.verified[c.relative] = (sha, c)
            # else: a second copy of content still being processed; decide once that one is finished
        elif entry.status == Status.DONE:
            if entry.source_path == c.relative:  # processed, but the move was interrupted
                self._archive(c, sha)
            else:
                self._archive_duplicate(c, sha, entry)
        elif entry.status == Status.FAILED:
            if entry.source_path == c.relative:  # failed, but the move was interrupted
                self._fail(c, sha, entry.error or "unknown error", entry.attempts)
            else:
                self._fail(c, sha, f"it has the same content as {entry.source_path}, which could not be processed: "
                                   f"{entry.error}", None, outcome=DropOutcome.DUPLICATE)

    def _free_session_ids(self, relative: str, sha: str) -> list[str]:
        return [s for s in session_id_candidates(relative, sha) if not (self.out_dir / s).exists()] or \
            [f"{session_id_candidates(relative, sha)[0]}-{sha}"]

    # -- moving originals ----------------------------------------------------------------------

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.inbox).as_posix()

    def _move(self, c: Candidate, area: str) -> Path:
        return move_original(self.inbox, c.path, c.relative, area)

    def _refuse(self, c: Candidate, reason: str) -> None:
        moved = self._move(c, FAILED)
        write_note(moved, error_text(c.relative, reason.rstrip(".") + ".",
                                     "see above; this file is the original, unchanged, and can be deleted or "
                                     "replaced by you."))
        self.ledger.record_drop(c.relative, None, DropOutcome.REFUSED, self._rel(moved), reason)
        self.report.refused.append(c.relative)
        self.log.warning("refused %s: moved to %s", c.relative, self._rel(moved))

    def _archive(self, c: Candidate, sha: str) -> None:
        moved = self._move(c, ARCHIVE)
        self.ledger.set_moved(sha, self._rel(moved))
        self.ledger.record_drop(c.relative, sha, DropOutcome.ARCHIVED, self._rel(moved))
        folder = self.ledger.get(sha).output_folder
        if folder:  # the static report's player follows the original to the archive
            try:
                rewrite_report(folder, moved)
            except Exception as exc:  # noqa: BLE001 - the session is written; only its player points at the inbox
                self.log.warning("could not write the report of %s again for its archived recording (%s); the "
                                 "portal still plays it", c.relative, type(exc).__name__)

    def _archive_duplicate(self, c: Candidate, sha: str, entry: LedgerEntry) -> None:
        moved = self._move(c, ARCHIVE)
        write_note(moved, (
            f"{c.relative} has the same content as {entry.source_path}, which was already processed "
            f"(session {entry.session_id}, in {entry.output_folder}). It was not processed again.\n\n"
            "Nothing to do. This file is the original, unchanged."), NOTE_SUFFIX)
        self.ledger.record_drop(c.relative, sha, DropOutcome.DUPLICATE, self._rel(moved),
                                f"same as {entry.source_path}")
        self.report.duplicates.append(c.relative)
        self.log.info("%s is a copy of an already processed recording; archived", c.relative)

    def _fail(self, c: Candidate, sha: str, problem: str, attempts: int | None,
              outcome: DropOutcome = DropOutcome.FAILED) -> None:
        moved = self._move(c, FAILED)
        write_note(moved, error_text(c.relative, problem.rstrip(".") + ".", None, attempts))
        if outcome == DropOutcome.FAILED:
            self.ledger.set_moved(sha, self._rel(moved))
        self.ledger.record_drop(c.relative, sha, outcome, self._rel(moved), problem)
        self.report.failed.append(c.relative)
        self.log.warning("%s failed: moved to %s", c.relative, self._rel(moved))

    # -- processing ----------------------------------------------------------------------------

    def finish(self, sha: str, attempt: Attempt) -> None:
        """Record how a finished attempt went: done and archived, failed, or queued again after a delay."""
        entry = self.ledger.get(sha)
        candidate = self._pending.pop(sha)
        self.keeper.discard(sha)
        if not self.ledger.holds(sha, self.owner):
            self.log.warning("%s finished here after its claim was taken back; the outcome is left to the worker "
                             "that has it now", entry.source_path)
            return
        try:
            folder, error = attempt.result(), None
        except BaseException as exc:  # noqa: BLE001 - classified below
            folder, error = None, exc
        if isinstance(error, AttemptsExhausted):
            error = error.error
        if error is None:
            self.ledger.mark_done(sha, str(folder))
            self.report.processed.append(entry.source_path)
            self.log.info("%s done: session %s", entry.source_path, entry.session_id)
            if unchanged(candidate):
                self._archive(candidate, sha)
            return
        attempts = self.ledger.get(sha).attempts
        if isinstance(error, MifidelityError):
            problem = str(error)
            hint = content_hint(candidate.path) if "not a readable" in problem else None
            problem = f"{problem.rstrip('.')}. {hint}" if hint else problem
            self.ledger.mark_failed(sha, problem[:MAX_ERROR_LENGTH])
            if unchanged(candidate):
                self._fail(candidate, sha, problem, None)
        elif attempts >= self.settings.max_attempts:
            message = (f"processing failed {attempts} times; the last error was an unexpected "
                       f"{type(error).__name__}: {str(error)[:MAX_ERROR_LENGTH]}")
            self.ledger.mark_failed(sha, message)
            if unchanged(candidate):
                self._fail(candidate, sha, message + ". This may be a fault of this machine rather than of the "
                           "file (e.g. memory, disk space); if the file plays fine, drop it in the inbox again",
                           attempts)
        else:
            delay = (self.settings.retry_delays or [30.0])[-1] * attempts
            self.ledger.requeue(sha, f"{type(error).__name__}: {str(error)[:MAX_ERROR_LENGTH]}", delay)
            self.report.requeued.append(entry.source_path)
            self.log.warning("%s failed with a transient error (try %d of %d); retrying in %.0f s",
                             entry.source_path, attempts, self.settings.max_attempts, delay)

    def recover(self) -> None:
        """Queue again the recordings whose holder died (no heartbeat for ``inbox.stale_after_minutes``)."""
        recovered = self.ledger.recover_abandoned(self.settings.stale_after_minutes * 60, spare=self.owner)
        if not recovered:
            return
        self.report.recovered.extend(entry.sha256 for entry in recovered)
        self.log.warning("%d recording(s) left unfinished by a stopped watcher are queued again: %s", len(recovered),
                         ", ".join(entry.source_path for entry in recovered))
        if self.abandoned:
            try:
                self.abandoned(recovered)
            except Exception as exc:  # noqa: BLE001 - bookkeeping elsewhere must not stop the run
                self.log.warning("could not report the abandoned runs: %s: %s", type(exc).__name__, exc)

    def run(self) -> CycleReport:
        """Scan and process until nothing is left to do, keeping claims alive; give them back if stopped."""
        running: dict[str, Attempt] = {}
        with self.keeper:
            try:
                return self._run(running)
            except BaseException:
                self._release(running)  # stopped (SIGTERM, Ctrl-C) or broken: nothing waits for a dead claim
                raise

    def _release(self, running: dict[str, Attempt]) -> None:
        for sha in running:
            try:
                if self.ledger.release(sha, self.owner, "the worker processing it was stopped; it is tried again"):
                    self.log.warning("stopping: %s is queued again for the next scan", self._pending[sha].relative)
            except Exception as exc:  # noqa: BLE001 - the heartbeat stops anyway, so the claim goes stale
                self.log.error("could not give back the claim on %s: %s", sha[:12], type(exc).__name__)

    def _run(self, running: dict[str, Attempt]) -> CycleReport:
        last_scan: float | None = None
        while True:
            if not running or last_scan is None or self.clock() - last_scan >= min(self.settings.interval, 5.0):
                self.recover()
                self.rescan()
                last_scan = self.clock()
            for entry in self.ledger.due():
                if len(running) >= self.settings.max_concurrency:
                    break
                seen = self.verified.get(entry.source_path)
                if entry.sha256 in running or seen is None or seen[0] != entry.sha256:
                    continue
                if not self.ledger.claim(entry.sha256, self.owner, self.flow_run_id):
                    continue  # another watcher took it
                self.keeper.add(entry.sha256)
                self._pending[entry.sha256] = seen[1]
                self.log.info("processing %s (session %s)", entry.source_path, entry.session_id)
                running[entry.sha256] = self.submit(entry.sha256)
            if not running:
                return self.report
            self.sleep(self.poll_seconds)
            for sha, attempt in list(running.items()):
                if attempt.done():
                    del running[sha]
                    try:
                        self.finish(sha, attempt)
                    except Exception as exc:  # noqa: BLE001 - keep going; the ledger recovers it next run
                        self.log.error("could not record the outcome of %s: %s: %s", sha[:12],
                                       type(exc).__name__, str(exc)[:MAX_ERROR_LENGTH])


def prepare_folders(inbox: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """The absolute inbox (which must exist) and output folder (created owner-only)."""
    inbox_path, out_path = Path(inbox).absolute(), Path(out_dir).absolute()
    if not inbox_path.is_dir():
        raise MifidelityError(f"inbox folder not found: {inbox_path}")
    private_dir(out_path)
    return inbox_path, out_path


def run_inbox(inbox: Path, out_dir: Path, config: PipelineConfig, submit: Submit,
              logger: logging.Logger | logging.LoggerAdapter | None = None, **options) -> CycleReport:
    """One run over folders from :func:`prepare_folders`, with its own connection to the ledger.

    ``options`` (``sleep``, ``clock``, ``poll_seconds``, ``owner``, ``flow_run_id``, ``abandoned``)
    go on to :class:`InboxRun`.
    """
    ledger = ledger_for(out_dir, config)
    try:
        return InboxRun(inbox, out_dir, config, submit, ledger, logger, **options).run()
    finally:
        ledger.close()
