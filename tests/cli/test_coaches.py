"""`mifidelity coaches enroll|list|forget` (the typer sub-application, run on its own)."""

import stat

import pytest
from typer.testing import CliRunner

from mifidelity.cli.coaches import coaches_app
from support.media import monologue

runner = CliRunner()


@pytest.mark.slow   # the speaker encoder loads and embeds two clips: about 6 s on a busy machine
def test_enroll_list_forget(tmp_path):
    clip = monologue(tmp_path / "coach.wav", seconds=15)
    out = tmp_path / "out"
    enrolled = runner.invoke(coaches_app, ["enroll", "Sam Lee", str(clip), "--out", str(out)])
    assert enrolled.exit_code == 0, enrolled.output
    assert "Sam Lee: voice profile from 1 clip(s) and 0 session(s)" in enrolled.output
    folder = out / ".voices"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "Sam Lee.npz").stat().st_mode) == 0o600
    assert not [p for p in folder.iterdir() if p.suffix in (".wav", ".mp3", ".npy")]   # no audio is kept

    again = runner.invoke(coaches_app, ["enroll", "Sam Lee", str(clip), "--out", str(out)])
    assert "from 2 clip(s)" in again.output
    listed = runner.invoke(coaches_app, ["list", "--out", str(out)])
    assert listed.exit_code == 0
    header, row = listed.output.splitlines()[:2]
    assert header.split() == ["COACH", "SESSIONS", "CLIPS", "UPDATED"]
    assert row.startswith("Sam Lee") and row.split()[2:4] == ["0", "2"]

    forgotten = runner.invoke(coaches_app, ["forget", "Sam Lee", "--out", str(out)])
    assert forgotten.exit_code == 0 and not (folder / "Sam Lee.npz").exists()
    assert "no voice profiles" in runner.invoke(coaches_app, ["list", "--out", str(out)]).output


def test_user_errors_are_one_line_and_status_2(tmp_path):
    clip = tmp_path / "missing.wav"
    bad = runner.invoke(coaches_app, ["enroll", "../../etc/passwd", str(clip), "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "cannot name a voice profile" in bad.output
    assert not list(tmp_path.rglob("*.npz"))
    nowhere = runner.invoke(coaches_app, ["list"])
    assert nowhere.exit_code == 2 and "--out OUT" in nowhere.output
    unknown = runner.invoke(coaches_app, ["forget", "Nobody", "--out", str(tmp_path)])
    assert unknown.exit_code == 2 and "no voice profile for Nobody" in unknown.output
    missing = runner.invoke(coaches_app, ["enroll", "Sam", str(clip), "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "error:" in missing.output


def test_profiles_folder_from_the_config(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"roles: {{voice_profiles: {tmp_path / 'profiles'}}}\n")
    listed = runner.invoke(coaches_app, ["list", "--config", str(config)])
    assert listed.exit_code == 0 and str(tmp_path / "profiles") in listed.output
