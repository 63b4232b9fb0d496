"""The change ruler on human-written, spoken-style exchanges (tests/coding/data/change_ruler_exchanges.csv).

Each exchange is a small session; its ``mark`` column says what a trainer would find: ``ruler:<dimension>``
on the scaling question, ``answer:<number>`` on the client utterance that gives the number, ``follow_up``
on the coach's follow-up.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from mifidelity.coding.change_ruler import ChangeRuler, find_change_ruler, scale_numbers

DATA = Path(__file__).parent / "data" / "change_ruler_exchanges.csv"
EXCHANGES = {name: rows.reset_index(drop=True) for name, rows in
             pd.read_csv(DATA, keep_default_na=False).groupby("exchange", sort=False)}


def expected(rows: pd.DataFrame) -> list[dict]:
    """The marks as the questions find_change_ruler should give."""
    questions = []
    for i, mark in enumerate(rows["mark"]):
        if mark.startswith("ruler:"):
            questions.append({"utterance": i, "dimension": mark.split(":")[1], "answer_utterance": None,
                              "client_number": None, "followed_up": False, "follow_up_utterance": None})
        elif mark.startswith("answer:"):
            questions[-1].update(answer_utterance=i, client_number=float(mark.split(":")[1]))
        elif mark == "follow_up":
            questions[-1].update(followed_up=True, follow_up_utterance=i)
    return questions


def test_the_test_set_is_varied():
    marks = pd.read_csv(DATA, keep_default_na=False)["mark"]
    assert len(EXCHANGES) >= 12
    assert {m for m in marks if m.startswith("ruler:")} == {"ruler:importance", "ruler:confidence", "ruler:readiness",
                                                            "ruler:other"}
    assert sum(not expected(rows) for rows in EXCHANGES.values()) >= 2  # exchanges without any ruler


@pytest.mark.parametrize("name", list(EXCHANGES))
def test_scaling_questions_numbers_and_follow_ups(name):
    rows = EXCHANGES[name]
    found = find_change_ruler(rows[["role", "text"]])
    keys = ("utterance", "dimension", "answer_utterance", "client_number", "followed_up", "follow_up_utterance")
    assert [{k: getattr(q, k) for k in keys} for q in found.questions] == expected(rows)


def test_a_session_without_a_ruler_gives_an_empty_list_and_zero_counts():
    rows = EXCHANGES["no_ruler_plain_talk"]
    block = find_change_ruler(rows[["role", "text"]]).as_dict()
    assert block == {"count": 0, "answered_with_number": 0, "followed_up": 0,
                     "by_dimension": {"importance": 0, "confidence": 0, "readiness": 0, "other": 0}, "questions": []}
    assert ChangeRuler(()).as_dict() == block
    json.dumps(block)


def test_counts_add_up_over_a_whole_session():
    session = pd.concat(EXCHANGES.values(), ignore_index=True)[["role", "text"]]
    block = find_change_ruler(session).as_dict()
    marks = pd.concat(EXCHANGES.values())["mark"]
    assert block["count"] == sum(m.startswith("ruler:") for m in marks)
    assert block["answered_with_number"] == sum(m.startswith("answer:") for m in marks)
    assert block["followed_up"] == sum(m == "follow_up" for m in marks)
    assert block["questions"][0]["client_number"] == 6 and isinstance(block["questions"][0]["client_number"], int)
    json.dumps(block)


def test_back_channels_are_skipped_and_punctuated_text_is_read_the_same():
    rows = pd.DataFrame({
        "role": ["coach", "client", "coach", "client", "coach"],
        "text": ["On a scale of 0-10, how confident are you?", "Hmm.", "Mm-hmm.", "I'd say a 7.",
                 "Why a 7, and not a 4?"],
        "backchannel": [False, False, True, False, False]})
    (question,) = find_change_ruler(rows).questions
    assert (question.dimension, question.client_number, question.answer_utterance, question.follow_up_utterance) == (
        "confidence", 7.0, 3, 4)


def test_numbers_said_as_ratings():
    assert scale_numbers("um maybe a six or seven".split(), 10) == [(3, 6.0), (5, 7.0)]
    assert scale_numbers("seventy five percent".split(), 100) == [(0, 75.0)]
    assert scale_numbers("no one is a one".split(), 10) == [(4, 1.0)]
    assert scale_numbers("twenty years".split(), 100) == []
    assert scale_numbers("about 12".split(), 10) == []  # off the scale


def test_a_range_written_with_a_dash_is_a_range():
    rows = pd.DataFrame({"role": ["coach", "client"], "text": ["And your confidence, 0-10?", "Maybe 7."]})
    (question,) = find_change_ruler(rows).questions
    assert (question.dimension, question.client_number) == ("confidence", 7.0)
