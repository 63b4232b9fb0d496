"""RTTM, WebVTT and SubRip from a coded session, read back with the field's own parsers."""

import io

import pandas as pd
import pysrt
import pytest
import webvtt
from pyannote.database.util import load_rttm

from mifidelity.outputs.captions import (
    has_times, role_named_turns, rttm_text, speaker_names, speaker_turns, srt_text, vtt_text,
)
from mifidelity.types import SpeakerTurn

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def utterances():
    return pd.DataFrame([
        dict(start=0.0, end=2.0, speaker="SPEAKER_01", role="coach", text=f"What brings you here {HOSTILE} & now?"),
        dict(start=2.5, end=6.0, speaker="SPEAKER_00", role="client", text="I want\n\nto stop --> drinking."),
        dict(start=6.2, end=6.6, speaker="SPEAKER_02", role="client", text="Mm-hmm."),
        dict(start=6.5, end=8.0, speaker="SPEAKER_01", role="coach", text="You want to stop."),
        dict(start=8.3, end=9.0, speaker="SPEAKER_01", role="coach", text="Right?"),
        dict(start=12.0, end=13.0, speaker="SPEAKER_01", role="coach", text="And then?"),
    ])


def test_names_are_roles_and_a_third_voice_keeps_its_label(utterances):
    assert speaker_names(utterances) == ["coach", "client", "SPEAKER_02", "coach", "coach", "coach"]


def test_one_speaker_value_for_both_roles_names_each_row_by_its_role():
    """A `mifidelity code` transcript may give every row the same speaker: roles must not be merged."""
    frame = pd.DataFrame([dict(start=0.0, end=1.0, speaker="x", role="coach", text="How are you?"),
                          dict(start=1.5, end=2.0, speaker="x", role="client", text="Fine."),
                          dict(start=2.5, end=3.0, speaker="x", role="coach", text="Good.")])
    assert speaker_names(frame) == ["coach", "client", "coach"]
    assert "Client: Fine." in srt_text(frame)
    assert [line.split()[7] for line in rttm_text(frame, "s").splitlines()] == ["coach", "client", "coach"]


def test_turns_join_one_speaker_across_short_pauses_only(utterances):
    turns = [(t.start, t.end, t.speaker) for t in speaker_turns(utterances)]
    assert turns == [(0.0, 2.0, "coach"), (2.5, 6.0, "client"), (6.2, 6.6, "SPEAKER_02"),
                     (6.5, 9.0, "coach"), (12.0, 13.0, "coach")]


def test_rttm_reads_back_with_pyannote(tmp_path, utterances):
    path = tmp_path / "diarization.rttm"
    path.write_text(rttm_text(utterances, "my session"))
    annotation = load_rttm(str(path))["my_session"]
    assert set(annotation.labels()) == {"coach", "client", "SPEAKER_02"}
    assert annotation.label_duration("coach") == pytest.approx(2.0 + 2.5 + 1.0)
    assert annotation.label_duration("client") == pytest.approx(3.5)
    assert all(len(line.split()) == 10 for line in path.read_text().splitlines())


def test_vtt_has_voice_tags_and_escaped_text(utterances):
    text = vtt_text(utterances)
    assert text.startswith("WEBVTT\n\n")
    assert HOSTILE not in text and "&lt;script&gt;" in text and "&amp; now" in text
    assert "stop --&gt; drinking" in text  # "-->" inside a cue would end its timing line
    captions = webvtt.from_buffer(io.StringIO(text))
    assert len(captions) == 6
    assert [c.voice for c in captions][:3] == ["Coach", "Client", "SPEAKER_02"]
    assert captions[1].start == "00:00:02.500" and captions[1].end == "00:00:06.000"
    assert "I want to stop" in captions[1].text  # the blank line inside the text does not end the cue


def test_srt_numbers_cues_with_the_speaker(tmp_path, utterances):
    path = tmp_path / "transcript.srt"
    path.write_text(srt_text(utterances))
    subs = pysrt.open(str(path))
    assert [s.index for s in subs] == [1, 2, 3, 4, 5, 6]
    assert subs[3].text == "Coach: You want to stop."
    assert subs[5].start.ordinal == 12000 and subs[5].end.ordinal == 13000


def test_transcript_without_times_is_recognised():
    frame = pd.DataFrame([dict(start=float("nan"), end=float("nan"), speaker="coach", role="coach", text="Hi")])
    assert not has_times(frame)


def test_rttm_of_a_recording_is_the_diarisers_turns_named_by_role(tmp_path, utterances):
    """Short exchanges that the recogniser's words join into one utterance stay apart in the RTTM."""
    turns = [SpeakerTurn(0.0, 2.0, "SPEAKER_01"), SpeakerTurn(2.5, 3.4, "SPEAKER_00"),
             SpeakerTurn(3.4, 3.9, "SPEAKER_01"),  # an interjection inside the client's utterance
             SpeakerTurn(3.9, 6.0, "SPEAKER_00"), SpeakerTurn(6.0, 6.4, "SPEAKER_00"),  # touching: joined
             SpeakerTurn(6.5, 6.7, "SPEAKER_02"), SpeakerTurn(7.0, 9.0, "SPEAKER_01")]
    roles = {"SPEAKER_01": "coach", "SPEAKER_00": "client", "SPEAKER_02": "client"}
    named = [(t.start, t.end, t.speaker) for t in role_named_turns(turns, roles)]
    assert named == [(0.0, 2.0, "coach"), (2.5, 3.4, "client"), (3.4, 3.9, "coach"), (3.9, 6.4, "client"),
                     (6.5, 6.7, "SPEAKER_02"), (7.0, 9.0, "coach")]
    path = tmp_path / "diarization.rttm"
    path.write_text(rttm_text(utterances, "s1", turns, roles))
    annotation = load_rttm(str(path))["s1"]
    assert annotation.label_duration("coach") == pytest.approx(2.0 + 0.5 + 2.0)
    assert annotation.label_duration("client") == pytest.approx(0.9 + 2.5)
    # Without turns (a transcript), the utterances make the turns as before.
    assert rttm_text(utterances, "s1", None, roles) == rttm_text(utterances, "s1")


def test_a_voice_without_a_role_keeps_its_label():
    turns = [SpeakerTurn(0.0, 1.0, "SPEAKER_00"), SpeakerTurn(1.0, 2.0, "SPEAKER_03")]
    assert [t.speaker for t in role_named_turns(turns, {"SPEAKER_00": "coach"})] == ["coach", "SPEAKER_03"]
