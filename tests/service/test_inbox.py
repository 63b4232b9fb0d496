"""The drop folder, without Prefect: scanning, stability, safe moves, error notes."""

import os
import time
from pathlib import Path

import pytest

from mifidelity.service.inbox import (
    ERROR_SUFFIX, error_text, is_stable, move_original, refusal_reason, scan, write_note,
)


def _touch(path: Path, data: bytes = b"x", age: float = 100.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    old = time.time() - age
    os.utime(path, (old, old))
    return path


def test_scan_finds_coach_folders_and_skips_archive_failed_hidden(tmp_path):
    _touch(tmp_path / "anna" / "s1.mp3")
    _touch(tmp_path / "loose.wav")
    _touch(tmp_path / "archive" / "anna" / "old.mp3")
    _touch(tmp_path / "failed" / "bad.mp3")
    _touch(tmp_path / ".s2.mp3.part")
    _touch(tmp_path / ".tmp" / "x.mp3")
    found = {c.relative: c.coach for c in scan(tmp_path)}
    assert found == {"anna/s1.mp3": "anna", "loose.wav": None}


def test_symlinks_are_reported_not_followed(tmp_path):
    outside = _touch(tmp_path.parent / f"{tmp_path.name}-outside.mp3")
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "link.mp3").symlink_to(outside)
    (inbox / "dirlink").symlink_to(tmp_path.parent)
    found = {c.relative: c for c in scan(inbox)}
    assert set(found) == {"link.mp3", "dirlink"}
    assert all(c.is_symlink for c in found.values())
    assert "symbolic link" in refusal_reason(found["link.mp3"])


def test_stability_needs_quiet_time(tmp_path):
    fresh = tmp_path / "fresh.mp3"
    fresh.write_bytes(b"abc")
    [candidate] = scan(tmp_path)
    assert not is_stable(candidate, 5)
    assert is_stable(candidate, 5, now=time.time() + 6)
    with open(fresh, "ab") as handle:  # still being written: the signature changed
        handle.write(b"more")
    assert not is_stable(candidate, 5, now=time.time() + 6)


def test_refusals_say_what_is_wrong(tmp_path):
    _touch(tmp_path / "empty.mp3", b"")
    _touch(tmp_path / "notes.pdf", b"%PDF")
    _touch(tmp_path / "fine.m4a", b"data")
    reasons = {c.relative: refusal_reason(c) for c in scan(tmp_path)}
    assert "empty (0 bytes)" in reasons["empty.mp3"]
    assert "'.pdf'" in reasons["notes.pdf"] and ".mp3" in reasons["notes.pdf"]
    assert reasons["fine.m4a"] is None


@pytest.mark.parametrize("name", ["a b ü 会话.mp3", "x..y.mp3", "dots..", "session (2).mp3"])
def test_moves_keep_relative_path_and_never_overwrite(tmp_path, name):
    inbox = tmp_path / "in"
    first = _touch(inbox / "Zoë" / name, b"one")
    moved = move_original(inbox, first, f"Zoë/{name}", "archive")
    assert moved == inbox / "archive" / "Zoë" / name and moved.read_bytes() == b"one" and not first.exists()
    second = _touch(inbox / "Zoë" / name, b"two")  # same name, new content
    moved2 = move_original(inbox, second, f"Zoë/{name}", "archive")
    assert moved2 != moved and moved2.parent == moved.parent and " (2)" in moved2.name
    assert moved.read_bytes() == b"one" and moved2.read_bytes() == b"two"


def test_move_refuses_escaping_paths_and_linked_areas(tmp_path):
    inbox = tmp_path / "in"
    f = _touch(inbox / "a.mp3")
    with pytest.raises(ValueError):
        move_original(inbox, f, "../a.mp3", "failed")
    (inbox / "archive").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="symbolic link"):
        move_original(inbox, f, "a.mp3", "archive")
    assert f.exists()


def test_moving_a_link_moves_the_link_only(tmp_path):
    target = _touch(tmp_path / "target.mp3", b"keep me")
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "l.mp3").symlink_to(target)
    moved = move_original(inbox, inbox / "l.mp3", "l.mp3", "failed")
    assert moved.is_symlink() and os.readlink(moved) == str(target) and target.read_bytes() == b"keep me"


def test_error_note_is_plain_words_and_never_overwrites(tmp_path):
    original = _touch(tmp_path / "s.mp3")
    first = write_note(original, error_text("s.mp3", "the file has no audio stream."))
    second = write_note(original, "again")
    assert first.name == "s.mp3" + ERROR_SUFFIX and first.read_text().startswith("s.mp3 could not")
    assert "What is wrong: the file has no audio stream." in first.read_text()
    assert "What to do:" in first.read_text()
    assert second != first and first.read_text() != "again\n"
    assert oct(first.stat().st_mode & 0o777) == "0o600"
