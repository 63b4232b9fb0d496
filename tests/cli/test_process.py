"""`mifidelity code` / `process` options: --formats chooses the files of each session folder."""

import pytest
from typer.testing import CliRunner

from mifidelity.cli import app
from support.reports import HOSTILE, hostile_transcript


def rules_config(folder):
    """A config with the keyword coder: the CLI's own work, without loading the trained coder."""
    config = folder / "rules.yaml"
    config.write_text("coding: {engine: rules}\n")
    return config


def test_unknown_format_is_a_one_line_error_before_any_work(tmp_path):
    result = CliRunner().invoke(app, ["code", str(hostile_transcript(tmp_path)), "--out", str(tmp_path / "out"),
                                      "--formats", "json,docx"])
    assert result.exit_code == 2
    assert "unknown output format docx" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_formats_choose_the_files(tmp_path):
    config = rules_config(tmp_path)
    result = CliRunner().invoke(app, ["code", str(hostile_transcript(tmp_path)), "--out", str(tmp_path / "out"),
                                      "--config", str(config), "--formats", "vtt,json"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / "hostile"
    assert sorted(p.name for p in folder.iterdir()) == ["session.json", "transcript.vtt"]
    assert HOSTILE not in (folder / "transcript.vtt").read_text()


def test_code_on_a_folder_without_transcripts_is_a_one_line_error(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not a transcript")
    result = CliRunner().invoke(app, ["code", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "no transcripts (.csv) found" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_code_takes_a_folder_of_transcripts(tmp_path):
    config = rules_config(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    hostile_transcript(folder)
    result = CliRunner().invoke(app, ["code", str(folder), "--out", str(tmp_path / "out"), "--config", str(config),
                                      "--formats", "json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "hostile" / "session.json").is_file()
