"""The session folders of an output folder, and who may see which.

Folder and file names in OUT are untrusted (anyone who can write to the inbox names a coach
folder; a folder may be a symlink to somewhere else). So:

- sessions are found by listing OUT, never by joining a requested name onto a path: a request
  names a session id, which is looked up in this index, so ``..``, encoded or not, and absolute
  paths never reach the file system;
- hidden entries (staging, caches, the ledger) and symlinks are skipped: a session folder is a
  real directory directly inside OUT;
- files are opened relative to the folder's descriptor with ``O_NOFOLLOW``, must be regular
  files, and are read whole (a swapped-in symlink or FIFO is refused, not followed);
- a recording (the source named in session.json, outside OUT) is served only when it has an audio
  suffix and is a regular file that is not a symlink; it is opened with ``O_NOFOLLOW`` and served
  only while it is still the file that was checked (same device and inode), so a symlink planted
  in the inbox cannot make the portal read another file.

The portal only reads here; everything it writes goes to the database.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mifidelity.portal.accounts import Account
from mifidelity.service.ledger import Ledger, LedgerEntry

logger = logging.getLogger(__name__)

RESCAN_SECONDS = 2.0  # a session the watcher just wrote shows up this soon
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ID_LENGTH = 255


class UnsafeFile(Exception):
    """A session file that is missing, not a regular file, a symlink, or too large."""


_RECORDING_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def open_recording(path: Path, expected: os.stat_result | None = None) -> int:
    """A read descriptor of the recording at ``path``; UnsafeFile unless it has an audio suffix and is a
    regular file reached without a symlink as its last component (``O_NOFOLLOW``; NONBLOCK so a FIFO cannot
    hang us). With ``expected``, it must also still be that file (same device and inode)."""
    from mifidelity.audio import AUDIO_EXTENSIONS

    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise UnsafeFile(path.name)
    try:
        fd = os.open(path, _RECORDING_FLAGS)
    except OSError:
        raise UnsafeFile(path.name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (
                expected is not None and (info.st_dev, info.st_ino) != (expected.st_dev, expected.st_ino)):
            raise UnsafeFile(path.name)
    except BaseException:
        os.close(fd)
        raise
    return fd


def recording_stat(path: Path) -> os.stat_result | None:
    """The recording's stat when :func:`open_recording` accepts it (checked through the opened descriptor), else None."""
    try:
        fd = open_recording(path)
    except UnsafeFile:
        return None
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def moved_original(source: str | None, entry: LedgerEntry | None) -> Path | None:
    """Where the inbox moved a watched recording after processing it, if it did.

    session.json keeps the path the recording was read from (``INBOX/<coach>/<name>``); the
    ledger keeps that path and the later one (``archive/<coach>/<name>``) relative to the inbox.
    """
    if not source or entry is None or not entry.moved_to or not entry.source_path:
        return None
    read_from, relative, moved = Path(source), Path(entry.source_path), Path(entry.moved_to)
    if moved.is_absolute() or ".." in moved.parts or read_from.parts[-len(relative.parts):] != relative.parts:
        return None
    return Path(*read_from.parts[:-len(relative.parts)]) / moved


@dataclass(frozen=True)
class SessionFolder:
    """One session folder in OUT, as its session.json describes it."""

    session_id: str
    coach: str | None
    folder_name: str  # the directory's name inside OUT (usually the session id)
    source: str | None  # where the recording (or transcript) was read from
    mtime_ns: int  # session.json's modification time: changes when the session is rewritten


def _plain_text(value, limit: int = MAX_ID_LENGTH) -> str | None:
    if not isinstance(value, str) or not value or len(value) > limit:
        return None
    if any(not c.isprintable() for c in value):
        return None
    return value


def read_inside(out_dir: Path, folder_name: str, file_name: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``OUT/<folder_name>/<file_name>``, refusing symlinks at either level and non-regular files."""
    if "/" in folder_name or "/" in file_name or folder_name in (".", "..") or file_name in (".", ".."):
        raise UnsafeFile(file_name)
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        dir_fd = os.open(folder_name, flags | os.O_DIRECTORY, dir_fd=_out_fd(out_dir))
    except OSError:
        raise UnsafeFile(file_name) from None
    try:
        fd = os.open(file_name, flags | os.O_NONBLOCK, dir_fd=dir_fd)  # NONBLOCK: a FIFO must not hang us
    except OSError:
        raise UnsafeFile(file_name) from None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise UnsafeFile(file_name)
        return handle.read(limit + 1)


def _mtime_inside(out_dir: Path, folder_name: str, file_name: str) -> int:
    dir_fd = os.open(folder_name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=_out_fd(out_dir))
    try:
        info = os.stat(file_name, dir_fd=dir_fd, follow_symlinks=False)
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(file_name)
    return info.st_mtime_ns


_out_fds: dict[Path, int] = {}
_out_lock = threading.Lock()


def _out_fd(out_dir: Path) -> int:
    # One descriptor of OUT per process: files are opened relative to it, so a renamed or swapped OUT
    # path cannot redirect reads.
    with _out_lock:
        fd = _out_fds.get(out_dir)
        if fd is None:
            fd = _out_fds[out_dir] = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        return fd


class SessionLibrary:
    """An index of OUT's session folders, rescanned at most every :data:`RESCAN_SECONDS`.

    Parameters
    ----------
    out_dir:
        The output folder (`process`, `code` and `watch` write it).
    """

    def __init__(self, out_dir: str | Path, rescan_seconds: float = RESCAN_SECONDS, ledger: Ledger | None = None):
        self.out_dir = Path(out_dir).resolve()
        self.ledger = ledger  # where `mifidelity watch` moved each original (archive/), when it did
        if not self.out_dir.is_dir():
            raise FileNotFoundError(f"no output folder at {self.out_dir}")
        self.rescan_seconds = rescan_seconds
        self._lock = threading.Lock()
        self._scanned_at = -float("inf")
        self._by_id: dict[str, SessionFolder] = {}
        self._by_folder: dict[str, SessionFolder] = {}
        self._snapshot: tuple = ()
        self._recordings: dict[str, tuple[str | None, float, Path | None]] = {}

    # -- the index -------------------------------------------------------------------------------

    def _scan(self) -> None:
        by_folder: dict[str, SessionFolder] = {}
        with os.scandir(_out_fd(self.out_dir)) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue  # hidden (staging, cache, ledger) or a symlink: never a session
                try:
                    mtime = _mtime_inside(self.out_dir, entry.name, "session.json")
                except (OSError, UnsafeFile):
                    continue
                known = self._by_folder.get(entry.name)
                if known is not None and known.mtime_ns == mtime:
                    by_folder[entry.name] = known
                    continue
                found = self._read_summary(entry.name, mtime)
                if found is not None:
                    by_folder[entry.name] = found
        by_id: dict[str, SessionFolder] = {}
        for name in sorted(by_folder):
            found = by_folder[name]
            other = by_id.get(found.session_id)
            # Two folders claiming one id: the one named like it wins (write_session names folders so).
            if other is None or (found.folder_name == found.session_id and other.folder_name != other.session_id):
                by_id[found.session_id] = found
        self._by_folder, self._by_id = by_folder, by_id
        self._snapshot = tuple(sorted((f.folder_name, f.mtime_ns) for f in by_folder.values()))

    def _read_summary(self, folder_name: str, mtime: int) -> SessionFolder | None:
        try:
            summary = json.loads(read_inside(self.out_dir, folder_name, "session.json", limit=8 * 1024 * 1024))
        except (UnsafeFile, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(summary, dict):
            return None
        session_id = _plain_text(summary.get("session_id")) or _plain_text(folder_name)
        if session_id is None or "/" in session_id or session_id in (".", ".."):
            return None
        return SessionFolder(session_id=session_id, coach=_plain_text(summary.get("coach")), folder_name=folder_name,
                             source=_plain_text(summary.get("source"), 4096), mtime_ns=mtime)

    def all(self) -> dict[str, SessionFolder]:
        """Session id -> folder, fresh to within :attr:`rescan_seconds`."""
        with self._lock:
            now = time.monotonic()
            if now - self._scanned_at >= self.rescan_seconds:
                self._scan()
                self._scanned_at = now
            return self._by_id

    def snapshot(self) -> tuple:
        """(folder, session.json mtime) of every session: changes whenever a session is added, rewritten or removed."""
        self.all()
        return self._snapshot

    # -- access ----------------------------------------------------------------------------------

    def visible_to(self, account: Account) -> list[SessionFolder]:
        """The sessions this account may see, by session id."""
        return [found for _, found in sorted(self.all().items()) if account.may_see(found.coach)]

    def find(self, account: Account, session_id: str) -> SessionFolder | None:
        """The session if it exists *and* this account may see it; None otherwise (the caller answers 404 either way)."""
        found = self.all().get(session_id)
        return found if found is not None and account.may_see(found.coach) else None

    def read(self, session: SessionFolder, file_name: str) -> bytes:
        """A file of the session folder (``report.html``, ``utterances.csv``...); UnsafeFile if it cannot be read safely."""
        return read_inside(self.out_dir, session.folder_name, file_name)

    def recording(self, session: SessionFolder) -> Path | None:
        """The original recording when it is still reachable (the audio player's source), else None."""
        from mifidelity.report.session_facts import find_recording

        # Looked up as the static report does (the source, or audio beside a transcript), at most once per
        # rescan interval per session: a recording moved away stops playing that soon.
        now = time.monotonic()
        cached = self._recordings.get(session.session_id)
        if cached is not None and cached[0] == session.source and now - cached[1] < self.rescan_seconds:
            return cached[2]
        try:
            found = find_recording(session.source)
            if found is None and self.ledger is not None:
                found = moved_original(session.source, self.ledger.for_session(session.session_id))
            found = found if found is not None and recording_stat(found) is not None else None
        except OSError:
            found = None
        self._recordings[session.session_id] = (session.source, now, found)
        return found
