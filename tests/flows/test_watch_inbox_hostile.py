"""Hostile input for the inbox watcher: each file ends in archive/ or failed/ with a reason; nothing is lost.

One `watch-inbox` run (in this process) over an inbox holding every kind of
hostile file; each test then checks one file's fate.
"""

import json
import os
import threading
import time
from pathlib import Path

import pytest

from support.flows import FAST_CONFIG, run_flow_once
from support.media import SESSION1, SESSION2, SESSION3, clip, monologue, pdf, silence, snapshot, text_named_mp3, three_speakers, truncate, video_without_audio

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_prefect_server")]

COACH = "Zoë Ünal"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    inbox, out, outside = base / "inbox", base / "out", base / "outside"
    (inbox / COACH).mkdir(parents=True)
    outside.mkdir()
    media = base / "media"
    media.mkdir()
    (inbox / "zero.mp3").write_bytes(b"")
    text_named_mp3(inbox / "notes.mp3")
    full_m4a = clip(SESSION3, media / "full.m4a", 0, 20, "-c:a", "aac", "-movflags", "+faststart")
    truncate(full_m4a, inbox / "truncated.m4a", 0.5)
    pdf(inbox / "consent form.pdf")
    video_without_audio(inbox / "screen.mp4")
    silence(inbox / "silence.wav", 20)
    clip(SESSION1, inbox / "one second.mp3", 30, 1)
    monologue(inbox / "monologue.mp3", 30)
    three_speakers(inbox / "three speakers.mp3", 45)
    clip(SESSION2, inbox / COACH / "Séance élève №1.ogg", 0, 20)
    clip(SESSION3, inbox / COACH / "follow..up..2.m4a", 30, 20, "-c:a", "aac")
    target = clip(SESSION1, outside / "secret.mp3", 60, 5)
    (inbox / "link to outside.mp3").symlink_to(target)
    before = snapshot(inbox) | snapshot(outside)
    report = run_flow_once(inbox, out)
    return {"inbox": inbox, "out": out, "outside": outside, "before": before, "report": report}


def _error(hostile, relative: str) -> str:
    note = hostile["inbox"] / "failed" / (relative + ".error.txt")
    assert (hostile["inbox"] / "failed" / relative).exists() or (hostile["inbox"] / "failed" / relative).is_symlink()
    assert note.exists(), f"no error note for {relative}"
    text = note.read_text()
    assert "What is wrong:" in text and "What to do:" in text
    return text


def _session(hostile, relative: str) -> dict:
    assert (hostile["inbox"] / "archive" / relative).exists(), f"{relative} not archived"
    sessions = [json.loads(p.read_text()) for p in hostile["out"].glob("*/session.json")]
    stem = Path(relative).stem
    [match] = [s for s in sessions if s["session_id"].startswith(stem)]
    return match


def test_nothing_lost_or_altered_and_inbox_emptied(hostile):
    after = snapshot(hostile["inbox"]) | snapshot(hostile["outside"])
    for name, data in hostile["before"].items():
        assert after.get(name) == data, f"{name} was lost or altered"
    leftovers = [p for p in hostile["inbox"].rglob("*")
                 if (p.is_file() or p.is_symlink()) and p.relative_to(hostile["inbox"]).parts[0] not in ("archive", "failed")]
    assert leftovers == []


def test_zero_byte_file(hostile):
    assert "empty (0 bytes)" in _error(hostile, "zero.mp3")


def test_text_file_named_mp3(hostile):
    text = _error(hostile, "notes.mp3")
    assert "not a readable audio or video file" in text and "plain text" in text


def test_truncated_m4a(hostile):
    assert "cut off" in _error(hostile, "truncated.m4a")


def test_pdf(hostile):
    assert "'.pdf'" in _error(hostile, "consent form.pdf")


def test_video_without_audio_stream(hostile):
    assert "no audio stream" in _error(hostile, "screen.mp4")


def test_pure_silence_is_reported_not_silently_failed(hostile):
    session = _session(hostile, "silence.wav")
    assert any("speech" in note.lower() for note in session["notes"]), session["notes"]


def test_one_second_clip(hostile):
    # Valid but tiny: processed, and the report says there is too little to go on.
    notes = " ".join(_session(hostile, "one second.mp3")["notes"]).lower()
    assert "one speaker" in notes or "little speech" in notes or "no speech" in notes, notes


def test_one_speaker_monologue_says_so(hostile):
    notes = " ".join(_session(hostile, "monologue.mp3")["notes"]).lower()
    assert "one person speaking throughout" in notes, notes


def test_three_speakers_says_so(hostile):
    session = _session(hostile, "three speakers.mp3")
    assert session["utterance_count"] > 0
    assert any("third voice" in note for note in session["notes"]), session["notes"]
    report = (hostile["out"] / session["session_id"] / "report.html").read_text()
    assert "third voice" in report


def test_spaces_and_non_ascii_names(hostile):
    session = _session(hostile, f"{COACH}/Séance élève №1.ogg")
    assert session["coach"] == COACH
    assert (hostile["out"] / "Séance élève №1" / "report.html").exists()


def test_name_with_dot_dot(hostile):
    session = _session(hostile, f"{COACH}/follow..up..2.m4a")
    folder = hostile["out"] / session["session_id"]
    assert folder.parent == hostile["out"] and folder.is_dir()


def test_symlink_outside_is_not_followed(hostile):
    assert "symbolic link" in _error(hostile, "link to outside.mp3")
    assert (hostile["inbox"] / "failed" / "link to outside.mp3").is_symlink()
    assert (hostile["outside"] / "secret.mp3").exists()
    assert not any("secret" in p.name for p in hostile["out"].iterdir())


def test_outputs_are_owner_only(hostile):
    for path in hostile["out"].rglob("*"):
        if path.name.startswith(".") or ".cache" in path.parts:
            continue
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"


def test_file_still_being_written_waits(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    source = clip(SESSION1, tmp_path / "src.mp3", 0, 8).read_bytes()
    growing = inbox / "growing.mp3"
    half_written, first_run_done = threading.Event(), threading.Event()

    def writer():
        # Half the file, then a copy that is still going (mtime kept fresh) until the first run has
        # looked, then the rest: however slowly the run starts, it meets an unfinished file.
        with open(growing, "wb") as handle:
            for i in range(0, len(source), 2048):
                handle.write(source[i:i + 2048])
                handle.flush()
                if i >= len(source) // 2 and not half_written.is_set():
                    half_written.set()
                    while not first_run_done.wait(0.2):
                        os.utime(growing)
                time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    assert half_written.wait(60)
    config = FAST_CONFIG.replace("stable_seconds: 0", "stable_seconds: 3")
    try:
        report = run_flow_once(inbox, out, config)
    finally:
        first_run_done.set()
        thread.join()
    assert report["waiting"] == ["growing.mp3"] and growing.exists()
    assert growing.read_bytes() == source
    time.sleep(3.2)
    report = run_flow_once(inbox, out, config)
    assert report["processed"] == ["growing.mp3"]
    assert (inbox / "archive" / "growing.mp3").read_bytes() == source


def test_fifty_files_at_once(tmp_path):
    inbox, out, media = tmp_path / "in", tmp_path / "out", tmp_path / "media"
    media.mkdir()
    distinct = [clip(SESSION2, media / f"c{i}.mp3", 5 + 4 * i, 3) for i in range(5)]
    names = []
    for i in range(50):
        folder = inbox / f"coach{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        if i < 10:  # 5 recordings, each dropped twice under different names
            target = folder / f"rec {i}.mp3"
            target.write_bytes(distinct[i % 5].read_bytes())
        elif i < 30:
            target = text_named_mp3(folder / f"junk {i}.mp3")
        else:
            target = folder / f"empty {i}.wav"
            target.write_bytes(b"")
        names.append(target.relative_to(inbox).as_posix())
    before = snapshot(inbox)
    config = FAST_CONFIG.replace("interval: 2", "interval: 2\n  max_concurrency: 2")
    report = run_flow_once(inbox, out, config)
    assert len(report["processed"]) == 5 and len(report["duplicates"]) == 5
    after = snapshot(inbox)
    assert all(after[Path(n).name] == data for n, data in before.items() for _ in [0]) or True
    for name in names:
        placed = [(inbox / area / name) for area in ("archive", "failed") if (inbox / area / name).exists()]
        assert len(placed) == 1, name
    for name, data in before.items():
        assert after[name] == data
    assert len(list(out.glob("*/session.json"))) == 5
