"""Prefect flow `watch-inbox`: process every recording dropped in a folder, once.

One run scans the inbox, registers each finished copy in the ledger (keyed by
the SHA-256 of its content), processes queued recordings through
`process-recording` with bounded concurrency, and moves each original to
``INBOX/archive/`` or ``INBOX/failed/`` (with ``<name>.error.txt``). While
recordings are being processed the run keeps rescanning, so new drops are
registered; it ends when nothing is left to do. `mifidelity watch` serves
this flow as a deployment with an interval schedule.

Logs name files, session ids and statuses; never transcript text.
"""

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mifidelity.audio import file_sha256
from mifidelity.config import PipelineConfig, load_config
from mifidelity.errors import MifidelityError
from mifidelity.inbox import (
    ARCHIVE, FAILED, NOTE_SUFFIX, Candidate, content_hint, error_text, is_stable, move_original, refusal_reason, scan,
    unchanged, write_note,
)
from mifidelity.ledger import DONE, FAILED as FAILED_STATUS, PROCESSING, QUEUED, Ledger, default_database_url

MAX_ERROR_LENGTH = 600


def ledger_for(out_dir: str | Path, config: PipelineConfig) -> Ledger:
    return Ledger(config.inbox.database_url or default_database_url(out_dir))


def session_id_candidates(relative: str, sha256: str) -> list[str]:
    """The file's stem, or stem + a short content hash when another recording already has that name."""
    stem = Path(relative).stem.strip()
    stem = re.sub(r"[\x00-\x1f/\\]", "_", stem)
    if stem in ("", ".", "..") or stem.startswith("."):
        stem = "session"
    return [stem, f"{stem}-{sha256[:8]}", f"{stem}-{sha256[:16]}", f"{stem}-{sha256}"]


def check_complete(path: str | Path, ffmpeg: str = "ffmpeg") -> None:
    """Refuse a recording that is cut off: less audio decodes than the file itself declares.

    Files ffprobe cannot read are let through; the pipeline's decoder then
    reports what is wrong with them.
    """
    import subprocess

    ffprobe = str(Path(ffmpeg).with_name("ffprobe")) if "/" in ffmpeg else "ffprobe"
    probe = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                           capture_output=True, text=True)
    try:
        declared = float(probe.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return
    decode = subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-i", str(path), "-vn", "-map", "0:a:0?",
                             "-f", "null", "-"], capture_output=True, text=True)
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", decode.stderr)
    if not times:
        return
    h, m, s = times[-1]
    decoded = int(h) * 3600 + int(m) * 60 + float(s)
    if declared - decoded > max(1.0, 0.02 * declared):
        raise MifidelityError(
            f"the recording is cut off: the file says it lasts {_clock(declared)} but only {_clock(decoded)} "
            "of audio could be read, so the copy is incomplete or the recorder stopped before finishing the file"
        )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@task(name="process-inbox-recording", cache_policy=NO_CACHE, persist_result=False)
def process_inbox_recording(sha256: str, inbox: str, out_dir: str, config: PipelineConfig) -> str:
    """One try at one claimed recording (Prefect retries this on transient errors)."""
    from mifidelity_flows.process_recording import process_recording

    ledger = ledger_for(out_dir, config)
    try:
        ledger.start_attempt(sha256)
        row = ledger.get(sha256)  # attempts now counts this try
    finally:
        ledger.close()
    path = Path(inbox) / row.source_path
    if not path.is_file() or path.is_symlink():
        raise MifidelityError("the file disappeared from the inbox before it could be processed")
    try:
        check_complete(path, config.audio.ffmpeg)
        return process_recording(str(path), str(out_dir), config, coach=row.coach, session_id=row.session_id)
    except Exception as exc:
        if row.attempts >= config.inbox.max_attempts:
            exc.mifidelity_out_of_tries = True  # tell the retry condition to stop
        raise


def _exception_of(state) -> BaseException | None:
    if isinstance(state.data, BaseException):
        return state.data
    try:
        value = state.result(raise_on_failure=False)
    except BaseException as exc:  # noqa: BLE001 - we only classify it
        return exc
    return value if isinstance(value, BaseException) else None


def _should_retry(_task, _task_run, state) -> bool:
    """Prefect retry condition: transient errors only, and only while tries are left."""
    error = _exception_of(state)
    return not isinstance(error, MifidelityError) and not getattr(error, "mifidelity_out_of_tries", False)


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
    """The state of one `watch-inbox` run."""

    def __init__(self, inbox: Path, out_dir: Path, config: PipelineConfig, logger) -> None:
        self.inbox, self.out_dir, self.config, self.log = inbox, out_dir, config, logger
        self.settings = config.inbox
        self.ledger = ledger_for(out_dir, config)
        self.report = CycleReport()
        self.verified: dict[str, tuple[str, Candidate]] = {}  # relative path -> (sha256, candidate)
        self._hashes: dict[tuple, str] = {}

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
        row = self.ledger.get(sha)
        if row is None:
            row = self.ledger.register(sha, c.relative, c.coach, self._free_session_ids(c.relative, sha))
            if row.source_path == c.relative:
                self.report.registered.append(c.relative)
                self.log.info("queued %s as session %s", c.relative, row.session_id)
        if row.status in (QUEUED, PROCESSING):
            if row.source_path != c.relative and row.status == QUEUED and not (self.inbox / row.source_path).exists():
                self.ledger.set_source(sha, c.relative, c.coach)  # the first copy went away; use this one
                row = self.ledger.get(sha)
            if row.source_path == c.relative:
                self.verified[c.relative] = (sha, c)
            # else: a second copy of content still being processed; decide once that one is finished
        elif row.status == DONE:
            if row.source_path == c.relative:  # processed, but the move was interrupted
                self._archive(c, sha)
            else:
                moved = self._move(c, ARCHIVE)
                write_note(moved, (
                    f"{c.relative} has the same content as {row.source_path}, which was already processed "
                    f"(session {row.session_id}, in {row.output_folder}). It was not processed again.\n\n"
                    "Nothing to do. This file is the original, unchanged."), NOTE_SUFFIX)
                self.ledger.record_drop(c.relative, sha, "duplicate", self._rel(moved), f"same as {row.source_path}")
                self.report.duplicates.append(c.relative)
                self.log.info("%s is a copy of an already processed recording; archived", c.relative)
        elif row.status == FAILED_STATUS:
            if row.source_path == c.relative:  # failed, but the move was interrupted
                self._fail(c, sha, row.error or "unknown error", row.attempts)
            else:
                self._fail(c, sha, f"it has the same content as {row.source_path}, which could not be processed: "
                                   f"{row.error}", None, outcome="duplicate")

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
        self.ledger.record_drop(c.relative, None, "refused", self._rel(moved), reason)
        self.report.refused.append(c.relative)
        self.log.warning("refused %s: moved to %s", c.relative, self._rel(moved))

    def _archive(self, c: Candidate, sha: str) -> None:
        moved = self._move(c, ARCHIVE)
        self.ledger.set_moved(sha, self._rel(moved))
        self.ledger.record_drop(c.relative, sha, "archived", self._rel(moved))

    def _fail(self, c: Candidate, sha: str, problem: str, attempts: int | None, outcome: str = "failed") -> None:
        moved = self._move(c, FAILED)
        write_note(moved, error_text(c.relative, problem.rstrip(".") + ".", None, attempts))
        if outcome == "failed":
            self.ledger.set_moved(sha, self._rel(moved))
        self.ledger.record_drop(c.relative, sha, outcome, self._rel(moved), problem)
        self.report.failed.append(c.relative)
        self.log.warning("%s failed: moved to %s", c.relative, self._rel(moved))

    # -- processing ----------------------------------------------------------------------------

    def finish(self, sha: str, future) -> None:
        row = self.ledger.get(sha)
        candidate = self._pending.pop(sha)
        try:
            folder, error = future.result(), None
        except BaseException as exc:  # noqa: BLE001 - classified below
            folder, error = None, exc
        if error is None:
            self.ledger.mark_done(sha, str(folder))
            self.report.processed.append(row.source_path)
            self.log.info("%s done: session %s", row.source_path, row.session_id)
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
            self.report.requeued.append(row.source_path)
            self.log.warning("%s failed with a transient error (try %d of %d); retrying in %.0f s",
                             row.source_path, attempts, self.settings.max_attempts, delay)

    def run(self) -> CycleReport:
        recovered = self.ledger.recover_abandoned(self.settings.lease_seconds)
        self.report.recovered.extend(recovered)
        if recovered:
            self.log.warning("%d recording(s) left unfinished by a stopped watcher are queued again", len(recovered))
        runner = process_inbox_recording.with_options(
            retries=len(self.settings.retry_delays),
            retry_delay_seconds=list(self.settings.retry_delays) or 0,
            retry_condition_fn=_should_retry,
        )
        running: dict[str, object] = {}
        self._pending: dict[str, Candidate] = {}
        last_scan = -1e9
        while True:
            if time.monotonic() - last_scan >= min(self.settings.interval, 5.0) or not running:
                self.rescan()
                last_scan = time.monotonic()
            for row in self.ledger.due():
                if len(running) >= self.settings.max_concurrency:
                    break
                seen = self.verified.get(row.source_path)
                if row.sha256 in running or seen is None or seen[0] != row.sha256:
                    continue
                if not self.ledger.claim(row.sha256):
                    continue  # another watcher took it
                self._pending[row.sha256] = seen[1]
                self.log.info("processing %s (session %s)", row.source_path, row.session_id)
                running[row.sha256] = runner.submit(row.sha256, str(self.inbox), str(self.out_dir), self.config)
            if not running:
                return self.report
            time.sleep(0.5)
            for sha, future in list(running.items()):
                if future.state.is_final():
                    del running[sha]
                    try:
                        self.finish(sha, future)
                    except Exception as exc:  # noqa: BLE001 - keep going; the ledger recovers it next run
                        self.log.error("could not record the outcome of %s: %s: %s", sha[:12],
                                       type(exc).__name__, str(exc)[:MAX_ERROR_LENGTH])


@flow(name="watch-inbox", log_prints=False)
def watch_inbox(inbox: str, out_dir: str, config_path: str | None = None,
                config: PipelineConfig | None = None) -> dict:
    """Scan INBOX once, process what is ready, move originals to archive/ or failed/."""
    settings = config or load_config(config_path)
    inbox_path, out_path = Path(inbox).absolute(), Path(out_dir).absolute()
    if not inbox_path.is_dir():
        raise MifidelityError(f"inbox folder not found: {inbox_path}")
    out_path.mkdir(parents=True, exist_ok=True, mode=0o700)
    out_path.chmod(0o700)
    run = InboxRun(inbox_path, out_path, settings, get_run_logger())
    try:
        report = run.run()
    finally:
        run.ledger.close()
    summary = {k: len(v) for k, v in report.as_dict().items() if v}
    get_run_logger().info("inbox run finished: %s", summary or "nothing to do")
    return report.as_dict()
