"""Owner-only files and folders, written atomically: the one home for how mifidelity writes to disk.

Everything mifidelity writes holds (or sits beside) a transcript of a counselling
session, so folders are 0700 and files 0600, and a file is written to a hidden
temporary name and renamed into place so that a crash never leaves a
half-written file that looks complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and its parents) if needed and make it owner-only; returns it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    path.chmod(PRIVATE_DIR_MODE)
    return path


def private_temp_dir(parent: str | Path, prefix: str, suffix: str) -> Path:
    """A new owner-only hidden folder inside ``parent`` (for staging a set of files)."""
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    os.chmod(staging, PRIVATE_DIR_MODE)
    return staging


def write_private(path: str | Path, content: str) -> None:
    """Write ``content`` to a new owner-only file (no rename: for files inside a staging folder)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(content)


def create_private_exclusive(path: str | Path, content: str) -> Path:
    """Write ``content`` to a new owner-only file; FileExistsError if ``path`` exists (never overwrites)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    return Path(path)


def write_private_atomic(path: str | Path, content: str | bytes) -> None:
    """Replace ``path`` with ``content`` (text, or bytes written as they are) atomically; owner-only throughout."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(content)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def touch_private(path: str | Path) -> Path:
    """Create an empty owner-only file if it does not exist yet (its folder owner-only too)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    return path


# A spreadsheet runs a CSV cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def find_files(paths: list[str | Path], suffixes: frozenset[str] | set[str] | tuple[str, ...]) -> list[Path]:
    """Expand files and folders into a list of files: a folder means every file inside it (recursively, sorted)
    whose lower-cased suffix is one of ``suffixes``; symbolic links inside a folder are not followed. A file named
    explicitly is taken whatever its suffix."""
    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found.extend(sorted(p for p in item.rglob("*")
                                if p.is_file() and not p.is_symlink() and p.suffix.lower() in suffixes))
        else:
            found.append(item)
    return found


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text: a string starting like a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def from_spreadsheet_safe(value):
    """Undo :func:`spreadsheet_safe` for a program reading the CSV back (``'=x`` -> ``=x``)."""
    if isinstance(value, str) and value[:1] == "'" and value[1:2] in FORMULA_STARTS:
        return value[1:]
    return value
