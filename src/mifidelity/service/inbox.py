"""The drop folder: finding files, deciding when a copy has finished, moving originals away safely.

``INBOX/<coach>/<file>`` names the coach; files directly in INBOX have none.
``INBOX/archive/`` and ``INBOX/failed/`` are where originals go afterwards,
keeping their relative path. An original is only ever renamed: never opened
for writing, never deleted, never overwritten (a clashing destination gets a
`` (2)`` suffix). Symbolic links are never followed: a link is itself moved
to ``failed/`` (the file it points to is not touched). Hidden files and
folders (names starting with ``.``) are left alone, because copy tools write
their temporary files under such names. A copy that stopped early (the file
declares more audio than decodes) is caught by :func:`check_complete`.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mifidelity.audio import AUDIO_EXTENSIONS
from mifidelity.errors import MifidelityError
from mifidelity.files import create_private_exclusive

ARCHIVE, FAILED = "archive", "failed"
RESERVED = frozenset({ARCHIVE, FAILED})
ERROR_SUFFIX = ".error.txt"
NOTE_SUFFIX = ".duplicate.txt"


@dataclass(frozen=True)
class Candidate:
    """A file seen in the inbox."""

    path: Path          # absolute path inside the inbox (not resolved: a link stays a link)
    relative: str       # path relative to the inbox, with '/' separators
    coach: str | None   # first folder under the inbox, if any
    size: int
    mtime_ns: int
    is_symlink: bool
    is_regular: bool

    @property
    def signature(self) -> tuple[int, int]:
        return self.size, self.mtime_ns


def scan(inbox: str | Path) -> list[Candidate]:
    """Every non-hidden entry under ``inbox`` except ``archive/`` and ``failed/``, sorted by path.

    Directories are walked without following symbolic links; a link (to a file
    or a folder) is reported as a candidate with ``is_symlink`` set.
    """
    inbox = Path(inbox).absolute()
    found: list[Candidate] = []
    for folder, dirs, files in os.walk(inbox, followlinks=False):
        here = Path(folder)
        top = here == inbox
        kept = []
        for name in dirs:
            if name.startswith(".") or (top and name in RESERVED):
                continue
            if (here / name).is_symlink():
                files.append(name)  # a link to a folder: refuse it like a link to a file
                continue
            kept.append(name)
        dirs[:] = sorted(kept)
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = here / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue  # moved away while we looked
            relative = path.relative_to(inbox).as_posix()
            parts = relative.split("/")
            found.append(Candidate(
                path=path, relative=relative, coach=parts[0] if len(parts) > 1 else None,
                size=info.st_size, mtime_ns=info.st_mtime_ns,
                is_symlink=stat.S_ISLNK(info.st_mode), is_regular=stat.S_ISREG(info.st_mode),
            ))
    return sorted(found, key=lambda c: c.relative)


def is_stable(candidate: Candidate, stable_seconds: float, now: float | None = None) -> bool:
    """True when the file has not changed (size, mtime, ctime) for ``stable_seconds``."""
    try:
        info = os.lstat(candidate.path)
    except FileNotFoundError:
        return False
    if (info.st_size, info.st_mtime_ns) != candidate.signature:
        return False
    return (now or time.time()) - max(info.st_mtime, info.st_ctime) >= stable_seconds


def unchanged(candidate: Candidate) -> bool:
    """The file still has the size and mtime it had when scanned (checked after hashing)."""
    try:
        info = os.lstat(candidate.path)
    except FileNotFoundError:
        return False
    return (info.st_size, info.st_mtime_ns) == candidate.signature


def refusal_reason(candidate: Candidate) -> str | None:
    """Why a file is refused without being opened, or None if it may be a recording."""
    if candidate.is_symlink:
        return ("This is a symbolic link, and links are never followed (the file it points to was not "
                "read or touched). Copy the recording itself into the inbox.")
    if not candidate.is_regular:
        return "This is not a regular file (a device, pipe or socket). Put recordings in the inbox as ordinary files."
    if candidate.size == 0:
        return ("The file is empty (0 bytes). The copy may have failed: copy the recording into the inbox again.")
    suffix = Path(candidate.relative).suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        kinds = ", ".join(sorted(AUDIO_EXTENSIONS))
        what = f"'{suffix}'" if suffix else "a file without an extension"
        return (f"This is {what}, not a recording format mifidelity reads ({kinds}). "
                "Export the session as an audio file and drop that in the inbox.")
    return None


def _safe_destination(inbox: Path, area: str, relative: str) -> Path:
    """``inbox/area/relative``, refusing anything that would land outside ``inbox/area``."""
    root = (inbox / area).absolute()
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ValueError(f"unsafe relative path {relative!r}")
    destination = root.joinpath(*parts)
    if os.path.commonpath([root, destination]) != str(root):
        raise ValueError(f"unsafe relative path {relative!r}")
    # No folder on the way may be a link (someone could point archive/ elsewhere).
    probe = root
    for part in [None, *parts[:-1]]:
        probe = probe if part is None else probe / part
        if probe.is_symlink():
            raise ValueError(f"{probe} is a symbolic link; refusing to move files through it")
    return destination


def _numbered(path: Path, n: int) -> Path:
    if n == 1:
        return path
    name = path.name
    # Keep the extension last so the file still opens: "a.mp3" -> "a (2).mp3".
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    return path.with_name(f"{stem} ({n}){dot}{ext}")


def move_original(inbox: str | Path, candidate_path: str | Path, relative: str, area: str) -> Path:
    """Move an original to ``inbox/area/relative`` without ever overwriting anything.

    The move is a rename (same file system): the content is not copied or
    changed. If the destination exists, `` (2)``, `` (3)``... is added before
    the extension. Returns the new path.
    """
    inbox = Path(inbox).absolute()
    destination = _safe_destination(inbox, area, relative)
    destination.parent.mkdir(parents=True, exist_ok=True)
    source = Path(candidate_path)
    for n in range(1, 10_000):
        target = _numbered(destination, n)
        if os.path.lexists(target) or os.path.lexists(_sidecar(target, ERROR_SUFFIX)):
            continue
        try:
            # link + unlink never replaces an existing file (rename would); fall back to rename
            # on file systems without hard links, having just checked the name is free.
            os.link(source, target, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                raise
            if os.path.lexists(target):
                continue
            os.rename(source, target)
            return target
        os.unlink(source)
        return target
    raise RuntimeError(f"could not find a free name for {destination}")


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def write_note(moved: Path, text: str, suffix: str = ERROR_SUFFIX) -> Path:
    """Write ``<name><suffix>`` beside a moved original (owner-only, never overwriting)."""
    note = _sidecar(moved, suffix)
    n = 1
    while True:
        try:
            return create_private_exclusive(note, text.rstrip() + "\n")
        except FileExistsError:
            n += 1
            note = _sidecar(moved, f".{n}{suffix}")


def check_complete(path: str | Path, ffmpeg: str = "ffmpeg") -> None:
    """Refuse a recording that is cut off: less audio decodes than the file itself declares.

    Files ffprobe cannot read are let through; the pipeline's decoder then
    reports what is wrong with them.
    """
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


def content_hint(path: str | Path) -> str | None:
    """A plain description of what a file that is not audio actually holds (PDF, text), if obvious."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if head.startswith(b"%PDF"):
        return "The file is a PDF document, not a recording."
    if head and b"\0" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "The file contains plain text, not audio, although its name looks like a recording."
    return None


def error_text(file_name: str, problem: str, advice: str | None = None, attempts: int | None = None) -> str:
    """The plain-words content of ``<name>.error.txt``."""
    lines = [
        f"{file_name} could not be turned into a fidelity report.",
        "",
        f"What is wrong: {problem}",
    ]
    if attempts:
        lines.append(f"Tries: {attempts}")
    lines += [
        "",
        "What to do: " + (advice or "check that the file is the complete recording of a session and plays in an "
                          "audio player; then drop the corrected file in the inbox again (any name). "
                          "This file is the original, unchanged."),
    ]
    return "\n".join(lines)
