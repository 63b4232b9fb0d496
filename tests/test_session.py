"""build_session: the typed hand-off from utterances (with roles) to a coded session."""

from datetime import datetime, timezone

import pytest

from mifidelity.session import BASE_COLUMNS, build_session
from mifidelity.types import Utterance

UTTERANCES = [
    Utterance(0.0, 2.0, "SPEAKER_01", "What brings you here today?", "coach"),
    Utterance(None, None, "SPEAKER_00", "My doctor sent me.", "client"),
]


def test_utterances_become_the_coded_table_in_order(question_mark_coder):
    session = build_session(session_id="s1", source="/data/s1.csv", utterances=UTTERANCES, coder=question_mark_coder)
    table = session.utterances
    assert tuple(table.columns[:len(BASE_COLUMNS)]) == BASE_COLUMNS
    assert list(table["text"]) == [u.text for u in UTTERANCES] and list(table["role"]) == ["coach", "client"]
    assert table["start"].dtype == "float64" and table["start"].isna().tolist() == [False, True]
    assert session.duration_seconds is None and session.recorded_at is None and session.notes == []
    assert set(session.models) >= {"coding"}


def test_recorded_at_and_timings_by_reference(question_mark_coder):
    when = datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc)
    timings = {"audio": 0.1}
    session = build_session(session_id="s1", source="/data/s1.wav", utterances=UTTERANCES, coder=question_mark_coder,
                            timings=timings, recorded_at=when, notes=("a note",))
    timings["code"] = 0.2  # a stage that ends after the call still lands in the session
    assert session.recorded_at == when and session.timings == {"audio": 0.1, "code": 0.2}
    assert session.notes == ["a note"]


def test_keyword_only(question_mark_coder):
    with pytest.raises(TypeError):
        build_session("s1", "/data/s1.wav", UTTERANCES, question_mark_coder)  # type: ignore[misc]


def test_backchannels_are_never_a_behaviour_and_the_column_comes_last(question_mark_coder):
    """Issue 18: a coach "mm-hmm" inside the client's talk is coded other, a client one neutral talk."""
    utterances = [
        Utterance(0.0, 6.0, "SPEAKER_00", "I keep meaning to cut down but work is busy.", "client"),
        Utterance(2.0, 2.4, "SPEAKER_01", "Mm-hmm.", "coach", backchannel=True),
        Utterance(7.0, 9.0, "SPEAKER_01", "What would make it easier?", "coach"),
        Utterance(8.0, 8.3, "SPEAKER_00", "Yeah.", "client", backchannel=True),
        Utterance(10.0, 12.0, "SPEAKER_00", "I want to walk at lunch.", "client"),
    ]
    table = build_session(session_id="s", source="s.wav", utterances=utterances, coder=question_mark_coder).utterances
    assert table.columns[-1] == "backchannel" and table["backchannel"].tolist() == [False, True, False, True, False]
    # The test coder calls every coach line without "?" a reflection and every client line change talk.
    assert table.loc[1, ["main_behaviour", "question", "reflection", "giving_information"]].tolist() == [
        "other", "none", "none", False]
    assert table.loc[3, "client_talk"] == "neutral" and table.loc[0, "client_talk"] == "change"
    assert table.loc[2, "question"] == "open"
