"""Feeling words on human-written, spoken-style exchanges (tests/coding/data/feeling_words_exchanges.csv).

``mark`` says what a trainer would find: ``feeling:<word>`` (several joined by ``;``) on a client utterance that
names a feeling, ``reflects:<word>`` on the coach utterance that reflects the client's ``<word>``.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from mifidelity.coding.feeling_words import LEXICON, FeelingWords, find_feeling_words, lexicon, named_feelings

DATA = Path(__file__).parent / "data" / "feeling_words_exchanges.csv"
EXCHANGES = {name: rows.reset_index(drop=True) for name, rows in
             pd.read_csv(DATA, keep_default_na=False).groupby("exchange", sort=False)}


def expected(rows: pd.DataFrame) -> list[tuple]:
    feelings = {}
    for i, mark in enumerate(rows["mark"]):
        for part in filter(None, mark.split(";")):
            kind, word = part.split(":")
            if kind == "feeling":
                feelings[word] = (i, word, None)
            else:
                feelings[word] = (feelings[word][0], word, i)
    return sorted(feelings.values())


def test_the_test_set_is_varied():
    marks = pd.read_csv(DATA, keep_default_na=False)["mark"]
    assert len(EXCHANGES) >= 12
    assert sum("reflects:" in m for m in marks) >= 5
    assert sum(not expected(rows) for rows in EXCHANGES.values()) >= 4  # negated, topics, actions, none at all


@pytest.mark.parametrize("name", list(EXCHANGES))
def test_client_feelings_and_whether_the_coach_reflected_them(name):
    rows = EXCHANGES[name]
    frame = rows[["role", "text", "reflection"]].replace({"reflection": {"": None}})
    found = find_feeling_words(frame)
    assert sorted((f.utterance, f.word, f.reflection_utterance) for f in found.feelings) == expected(rows)
    assert all(f.reflected == (f.reflection_utterance is not None) for f in found.feelings)


def test_negated_feelings_are_counted_apart():
    rows = EXCHANGES["negated_feeling"]
    found = find_feeling_words(rows[["role", "text"]])
    assert found.feelings == () and found.negated == 1


def test_a_session_without_feelings_gives_an_empty_list_and_zero_counts():
    block = find_feeling_words(EXCHANGES["no_feelings_at_all"][["role", "text"]]).as_dict()
    assert block["feelings"] == [] and block["count"] == 0 and block["reflected"] == 0
    assert set(block["by_emotion"].values()) == {0}
    assert block == FeelingWords((), 0).as_dict()
    json.dumps(block)


def test_the_lexicon_comes_from_the_package_and_is_named():
    assert len(lexicon()) > 6000  # EmoLex as nrclex ships it, not a hand-written list
    assert "fear" in lexicon()["afraid"]
    assert LEXICON["package"].startswith("nrclex 4.1.0") and "NRC" in LEXICON["licence"]


def test_words_the_lexicon_lists_only_in_another_form_are_found():
    (scared,) = named_feelings("i was so scared")
    assert (scared.word, scared.lemma) == ("scared", "scare") and "fear" in scared.emotions
    assert [f.word for f in named_feelings("It made me feel SO stupid.")] == ["stupid"]
