"""A written session read back (outputs.reading): the report written again from the files is the report written
from the session, except for the recording's new place."""

import re
import stat
from dataclasses import replace
from datetime import datetime, timezone

import pandas as pd
import pytest

from mifidelity.coding import get_coder
from mifidelity.coding.base import PROBABILITY_COLUMNS
from mifidelity.config import PipelineConfig
from mifidelity.outputs import write_session
from mifidelity.outputs.reading import read_session, rewrite_report
from mifidelity.report import render_session_report
from mifidelity.session import build_session
from mifidelity.types import RoleAssignment, Utterance
from support.reports import HOSTILE

GENERATED = re.compile(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d")
PLAYER = re.compile(r'<audio id="player"[^>]*src="([^"]*)"')


class ProbabilityCoder:
    """The keyword coder plus the probability columns a trained coder adds (what the report's intervals read)."""

    def __init__(self):
        self.rules = get_coder(PipelineConfig.model_validate({"coding": {"engine": "rules"}}).coding)
        self.info = self.rules.info

    def code(self, roles, texts):
        codes = self.rules.code(roles, texts)
        for k, column in enumerate(PROBABILITY_COLUMNS):
            codes[column] = [round(0.1 + 0.07 * k + 0.013 * i, 4) for i in range(len(texts))]
        return codes


def _session(source: str):
    said = [("coach", "What brings you here today?"), ("client", f"I want to stop {HOSTILE} drinking, really."),
            ("coach", "mm-hmm"), ("client", "NA"), ("coach", "You want to stop, and\nyour family matters."),
            ("client", "5"), ("coach", ""), ("client", "None"), ("coach", "Would you like to talk about it?")]
    utterances = [Utterance(2.0 * i + 0.125, 2.0 * i + 1.75, "SPEAKER_00" if role == "coach" else "SPEAKER_01", text,
                            role, backchannel=text == "mm-hmm") for i, (role, text) in enumerate(said)]
    roles = RoleAssignment("SPEAKER_00", {"SPEAKER_00": "coach", "SPEAKER_01": "client"}, 0.9, "voice",
                           evidence={"voice": {"coach": "Ana", "recognised": True},
                                     "language": {"coach_speaker": "SPEAKER_01", "confidence": 0.61}})
    return build_session(session_id="week 1", source=source, utterances=utterances, coder=ProbabilityCoder(),
                         duration_seconds=20.0004, timings={"audio": 0.1}, roles=roles, notes=["A note."],
                         coach="Ana", recorded_at=datetime(2026, 3, 4, 10, 30, tzinfo=timezone.utc))


@pytest.fixture
def written(tmp_path):
    audio = tmp_path / "inbox" / "ana" / 'week "1" & more.wav'
    audio.parent.mkdir(parents=True)
    audio.write_bytes(b"RIFF0000WAVE")
    session = _session(str(audio))
    return session, write_session(session, tmp_path / "out"), audio


def test_the_session_comes_back_as_it_was_written(written):
    session, folder, _ = written
    back = read_session(folder)
    pd.testing.assert_frame_equal(back.utterances, session.utterances)
    assert (back.metrics, back.models, back.notes, back.coach, back.expected_metrics) == \
        (session.metrics, session.models, session.notes, session.coach, session.expected_metrics)
    assert replace(back.roles, notes=[]) == replace(session.roles, notes=[])  # the roles' notes are among the notes
    assert back.fidelity.globals.as_dict() == session.fidelity.globals.as_dict()
    assert back.recorded_at == session.recorded_at and back.source == session.source
    assert back.change_ruler == session.change_ruler and back.feeling_words == session.feeling_words


def test_the_report_written_again_is_the_same_report(written):
    session, folder, _ = written
    first = (folder / "report.html").read_text(encoding="utf-8")
    again = render_session_report(read_session(folder), report_dir=folder)
    assert GENERATED.sub("", again) == GENERATED.sub("", first)
    assert PLAYER.search(first)  # the recording was reachable: the report has a player


def test_the_player_follows_the_recording_to_the_archive(written, tmp_path):
    session, folder, audio = written
    report = folder / "report.html"
    before = report.read_text(encoding="utf-8")
    archived = tmp_path / "inbox" / "archive" / "ana" / audio.name
    archived.parent.mkdir(parents=True)
    audio.rename(archived)

    assert rewrite_report(folder, archived)
    after = report.read_text(encoding="utf-8")
    [src] = PLAYER.findall(after)
    assert src == "../../inbox/archive/ana/week%20%221%22%20%26%20more.wav"
    assert (folder / src.replace("%20", " ").replace("%22", '"').replace("%26", "&")).resolve() == archived.resolve()
    # Nothing but the player's URL (and the time the report was made) changed; the report stays private.
    assert GENERATED.sub("", after.replace(src, "")) == \
        GENERATED.sub("", before.replace("../../inbox/ana/week%20%221%22%20%26%20more.wav", ""))
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert archived.read_bytes() == b"RIFF0000WAVE"


def test_a_folder_without_a_report_is_left_alone(tmp_path):
    folder = write_session(_session("/nowhere/s.wav"), tmp_path, formats=["json", "csv"])
    before = sorted(p.name for p in folder.iterdir())
    assert not rewrite_report(folder, tmp_path / "archived.wav")
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_folder_without_its_table_cannot_be_read(tmp_path):
    folder = write_session(_session("/nowhere/s.wav"), tmp_path, formats=["json", "html"])
    with pytest.raises(FileNotFoundError):
        rewrite_report(folder, tmp_path / "archived.wav")
