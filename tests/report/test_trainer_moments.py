"""The change ruler and feeling words in session.json and in the report's highlights (issue 27)."""

import json

from mifidelity.outputs import session_summary, write_session
from mifidelity.report import render_session_report
from support.reports import ESCAPED, HOSTILE, coded_session

RULER_AND_FEELINGS = [
    ("coach", "What brings you in today?", "open"),
    ("client", f"honestly im so scared about my liver {HOSTILE}", "change"),
    ("coach", "you were frightened by that news", "complex"),
    ("client", "yeah it has", "neutral"),
    ("coach", "on a scale of zero to ten how important is it to you to cut down", "closed"),
    ("client", f"um maybe a six {HOSTILE}", "change"),
    ("coach", "why a six and not a three", "open"),
    ("client", "i want to see my grandkids grow up", "change"),
    ("coach", "and how confident are you on that same scale", "closed"),
    ("client", "about a four", "neutral"),
    ("coach", "ok lets look at your diary", None),
]
NEITHER = [
    ("coach", "What brings you in today?", "open"),
    ("client", "my doctor said i drink too much", "neutral"),
    ("coach", "your doctor is worried about you", "simple"),
    ("client", "i have about four pints a night", "sustain"),
]


def test_session_json_counts_the_ruler_and_the_feelings():
    summary = json.loads(json.dumps(session_summary(coded_session(RULER_AND_FEELINGS)), allow_nan=False))
    ruler = summary["change_ruler"]
    assert (ruler["count"], ruler["answered_with_number"], ruler["followed_up"]) == (2, 2, 1)
    assert ruler["by_dimension"] == {"importance": 1, "confidence": 1, "readiness": 0, "other": 0}
    assert ruler["questions"][0] == {"utterance": 4, "dimension": "importance", "scale_top": 10, "answer_utterance": 5,
                                     "client_number": 6, "followed_up": True, "follow_up_utterance": 6}
    feelings = summary["feeling_words"]
    assert (feelings["count"], feelings["reflected"]) == (1, 1)
    assert feelings["feelings"][0] == {"utterance": 1, "word": "scared", "emotions": ["anger", "fear", "surprise"],
                                       "reflected": True, "reflection_utterance": 2, "coach_word": "frightened"}
    assert feelings["lexicon"]["package"].startswith("nrclex 4.1.0")


def test_a_session_without_either_gives_empty_lists_and_zero_counts(tmp_path):
    folder = write_session(coded_session(NEITHER, "plain"), tmp_path)
    summary = json.loads((folder / "session.json").read_text())
    assert summary["change_ruler"]["questions"] == [] and summary["change_ruler"]["count"] == 0
    assert summary["change_ruler"]["followed_up"] == 0 and set(summary["change_ruler"]["by_dimension"].values()) == {0}
    assert summary["feeling_words"]["feelings"] == [] and summary["feeling_words"]["count"] == 0
    html = (folder / "report.html").read_text()
    assert 'id="change-ruler"' not in html and 'id="feeling-words"' not in html  # no empty boxes


def test_report_highlights_show_both_escaped():
    html = render_session_report(coded_session(RULER_AND_FEELINGS))
    assert HOSTILE not in html and ESCAPED in html
    ruler = html.split('id="change-ruler"')[1].split("</section>")[0].split('id="feeling-words"')[0]
    assert "Change ruler (2)" in ruler and "importance" in ruler and "confidence" in ruler
    assert "on a scale of zero to ten how important is it to you to cut down" in ruler
    assert f"um maybe a six {ESCAPED}" in ruler and "why a six and not a three" in ruler
    assert "not followed up" in ruler  # the confidence ruler
    feelings = html.split('id="feeling-words"')[1].split("</section>")[0]
    assert "Feeling words (1)" in feelings and "scared" in feelings and "you were frightened by that news" in feelings
    assert f"honestly im so scared about my liver {ESCAPED}" in feelings
    assert "NRC" in feelings  # the lexicon is named


def test_a_feeling_not_reflected_shows_what_the_coach_said_next():
    rows = [("client", "i get so worried about money", "neutral"),
            ("coach", "how much do you spend on cigarettes a week", "open")]
    feelings = render_session_report(coded_session(rows)).split('id="feeling-words"')[1].split("</section>")[0]
    assert "(0 of 1)" in feelings and "how much do you spend on cigarettes a week" in feelings
    assert "worried (sadness): not reflected" in feelings
