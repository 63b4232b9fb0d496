"""Session estimates (mifidelity.fidelity): features, the artifact's models and verdicts.

The training helpers are tested in tests/training/test_fidelity.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mifidelity.fidelity import (
    ARTIFACT, CONSTRUCTS, GLOBAL_NAMES, FidelityModel, GlobalScores, coach_document, session_features, session_verdict,
)
from mifidelity import metrics as metrics_module
from mifidelity.fidelity import FidelityEstimate
from mifidelity.coding.base import PROBABILITY_COLUMNS
from mifidelity.metrics import assess, compute_metrics, expected_metrics

COLUMNS = ["role", "text", "main_behaviour", "question", "reflection", "giving_information", "adherence", "client_talk"]


def coach(text, main="other", q="none", r="none", gi=False, adherence="none"):
    return ["coach", text, main, q, r, gi, adherence, None]


def client(text, talk="neutral"):
    return ["client", text, None, None, None, None, None, talk]


GOOD_MI = pd.DataFrame([
    coach("What brings you in today?", "question", q="open", adherence="seeking_collaboration"),
    client("I want to drink less, my kids notice.", "change"),
    coach("Your kids matter a lot to you, and you'd like them to see you differently.", "reflection", r="complex"),
    client("Yes. I don't want to be like my dad.", "change"),
    coach("You've already thought hard about this, which takes courage.", adherence="affirm"),
    coach("It's your call what, if anything, you change.", adherence="emphasizing_autonomy"),
    client("I think I can cut down on weekdays.", "change"),
    coach("You're ready to try weekdays first.", "reflection", r="simple"),
], columns=COLUMNS)

LECTURE = pd.DataFrame([
    coach("You need to stop drinking. Drinking is going to damage your liver and you really must quit now, "
          "there is no other way, I have seen this many times.", "input", gi=True, adherence="persuade"),
    client("I don't think it's that bad.", "sustain"),
    coach("You're just making excuses.", adherence="confront"),
    client("Maybe.", "neutral"),
    coach("Do you drink every day?", "question", q="closed"),
    client("Yes.", "neutral"),
    coach("You should go to a group and you have to tell your doctor.", "input", adherence="persuade"),
], columns=COLUMNS)


def test_session_features_read_codes_per_volley():
    features = session_features(GOOD_MI, compute_metrics(GOOD_MI))
    # 4 coach volleys (the affirmation and the autonomy statement are one volley), 2 reflections
    assert features["reflections_per_volley"] == pytest.approx(2 / 4)
    assert features["adherent_per_volley"] == pytest.approx(3 / 4)
    assert features["non_adherent_per_volley"] == 0
    assert features["change_talk_reflected"] == pytest.approx((2 + 0.5) / (3 + 1))  # 2 of 3 change talk reflected, shrunk
    lecture = session_features(LECTURE, compute_metrics(LECTURE))
    assert lecture["non_adherent_per_volley"] == pytest.approx(3 / 4)
    assert lecture["coach_word_share"] > features["coach_word_share"]
    for construct in CONSTRUCTS.values():
        assert set(construct) <= set(features)


def test_session_features_read_the_coders_expected_counts_where_it_gave_probabilities():
    unsure = GOOD_MI.copy()
    coach_rows, client_rows = unsure["role"] == "coach", unsure["role"] == "client"
    # The coder half-believes every coach utterance is a complex reflection and nothing else, and is
    # unsure of the change talk: the expected counts differ from the counted ones.
    for column in PROBABILITY_COLUMNS:
        unsure[column] = np.where(coach_rows if "reflection" in column or "question" in column else client_rows, 0.0, np.nan)
    unsure.loc[coach_rows, "probability_complex_reflection"] = 0.5
    unsure.loc[client_rows, "probability_change_talk"] = 0.6
    unsure.loc[client_rows, "probability_sustain_talk"] = 0.3
    counted = compute_metrics(unsure)
    features = session_features(unsure, counted)
    expected = expected_metrics(unsure)
    assert expected["reflections"] == pytest.approx(1 - 0.5 ** 2 + 0.5 + 0.5 + 0.5)  # the two-utterance volley: any of
    assert features["reflections_per_volley"] == pytest.approx(expected["reflections"] / 4)
    assert features["questions_per_volley"] == 0 and features["open_questions_per_volley"] == 0
    assert features["change_talk_share"] == pytest.approx((1.8 + 0.5) / (1.8 + 0.9 + 1))
    # Without probabilities (codes given by hand, the rule coder) the counted codes, as before.
    assert session_features(GOOD_MI, compute_metrics(GOOD_MI))["questions_per_volley"] == pytest.approx(1 / 4)
    # Counts the features do not read as expected ones stay counted.
    assert features["adherent_per_volley"] == pytest.approx(3 / 4)


def test_globals_are_indices_0_100_without_a_miti_rating():
    scores = GlobalScores(cultivating_change_talk=0.874, softening_sustain_talk=0.625, partnership=0.5, empathy=0.3)
    out = scores.as_dict()
    assert {k: out[k] for k in (*GLOBAL_NAMES, "technical", "relational")} == {
        "cultivating_change_talk": 87, "softening_sustain_talk": 63, "partnership": 50, "empathy": 30,
        "technical": 75, "relational": 40}  # technical, relational: the mean index of their two
    assert scores.technical == 75 and scores.relational == 40
    assert "index 0-100" in out["scale"] and "not MITI's 1-5" in out["scale"]
    assert not any(key.endswith("_rating") for key in out)  # no fair / good / below fair
    assert not hasattr(metrics_module, "GLOBAL_THRESHOLDS")  # nothing to rate them against MITI's 1-5 bands with
    with pytest.raises(ValueError):
        GlobalScores(cultivating_change_talk=4.5, softening_sustain_talk=3.5, partnership=3.5, empathy=3.4)  # 1-5
    edges = GlobalScores(0.0, 1.0, 0.004, 0.996).as_dict()
    assert (edges["cultivating_change_talk"], edges["softening_sustain_talk"], edges["partnership"], edges["empathy"]) == (
        0, 100, 0, 100)


def _tiny_artifact(path, weight):
    """A model whose every estimate reads one feature: its probability is sigmoid(weight x feature)."""
    def logistic(feature):
        return {"features": [feature], "mean": [0.0], "scale": [1.0], "coef": [weight], "intercept": 0.0}
    spec = {"version": 1, "models": {name: logistic("reflections_per_volley") for name in GLOBAL_NAMES},
            "text": {"terms": ["should"], "idf": [1.0], "coef": [-2.0], "intercept": 0.0}}
    spec["models"]["mi_quality"] = logistic("coach_text_log_odds")
    path.write_text(json.dumps(spec))
    return FidelityModel(path)


def test_model_applies_the_artifact(tmp_path):
    model = _tiny_artifact(tmp_path / "m.json", 3.0)
    estimate = model.estimate(GOOD_MI, compute_metrics(GOOD_MI))
    expected = 1 / (1 + np.exp(-3.0 * 2 / 4))  # a probability, not 1 + 4 p
    assert estimate.globals.empathy == pytest.approx(expected, abs=1e-6)
    assert estimate.globals.as_dict()["empathy"] == round(100 * expected) == 82
    assert estimate.mi_quality_probability == pytest.approx(0.5, abs=1e-3)  # no "should" in the coach's words
    lecture = model.estimate(LECTURE, compute_metrics(LECTURE))
    assert lecture.mi_quality_probability < 0.2  # "should" weighs against good MI in this artifact


def test_no_estimate_without_adherence_codes_or_coach(tmp_path):
    model = _tiny_artifact(tmp_path / "m.json", 1.0)
    plain = GOOD_MI.drop(columns=["adherence"])
    assert model.estimate(plain, compute_metrics(plain)) is None
    only_client = GOOD_MI[GOOD_MI["role"] == "client"].reset_index(drop=True)
    assert model.estimate(only_client, compute_metrics(only_client)) is None


def test_verdict_leads_with_the_estimate(tmp_path):
    model = _tiny_artifact(tmp_path / "m.json", 3.0)
    metrics = compute_metrics(LECTURE)
    verdict = session_verdict(assess(metrics), model.estimate(LECTURE, metrics))
    assert verdict.startswith("An MI expert would most likely rate this session as poor MI")
    assert "technical" in verdict.lower() and "relational index" in verdict and "of 100" in verdict
    assert "1-5" not in verdict and "(below fair)" not in verdict and "(fair)" not in verdict and "(good)" not in verdict
    assert session_verdict(assess(metrics), None).startswith(("This session", "Too few"))


def _verdict(frame, probability, **probabilities):
    scores = GlobalScores(**{name: 0.5 for name in GLOBAL_NAMES} | probabilities)
    return session_verdict(assess(compute_metrics(frame)), FidelityEstimate(scores, probability, "test"))


def test_likely_good_with_a_low_relational_index_says_why():
    verdict = _verdict(GOOD_MI, 0.82, cultivating_change_talk=0.8, softening_sustain_talk=0.7, partnership=0.3,
                       empathy=0.4)
    assert verdict.startswith("An MI expert would most likely rate this session as good MI (estimated probability of "
                              "good MI 82%), although the relational index is low (35 of 100; technical 75): the "
                              "estimate weighs all aspects and the coach's words together.")
    both = _verdict(GOOD_MI, 0.9, cultivating_change_talk=0.2, softening_sustain_talk=0.3, partnership=0.3, empathy=0.4)
    assert "although the technical and relational indices are low (25 and 35 of 100)" in both
    poor = _verdict(LECTURE, 0.1, partnership=0.9, empathy=0.8)
    assert "as poor MI (estimated probability of good MI 10%), although the relational index is high (85 of 100; technical 50)" in poor


def test_a_verdict_that_agrees_with_its_indices_names_them_as_indices():
    verdict = _verdict(GOOD_MI, 0.82, cultivating_change_talk=0.8, softening_sustain_talk=0.7, partnership=0.6,
                       empathy=0.9)
    assert "although" not in verdict
    assert "good MI 82%). Technical index 75, relational index 75 of 100" in verdict
    middle = _verdict(GOOD_MI, 0.5, partnership=0.1, empathy=0.1)  # "either way" contradicts nothing
    assert "although" not in middle and "relational index 10 of 100" in middle


def test_counted_measures_that_disagree_with_the_estimate_are_bridged():
    questions = pd.DataFrame([coach("Do you drink every day?", "question", q="closed"), client("Yes."),
                              coach("Is it beer?", "question", q="closed"), client("Mostly."),
                              coach("You'd rather it were less.", "reflection", r="complex")], columns=COLUMNS)
    assert assess(compute_metrics(questions)).set_index("metric").loc["reflection_to_question", "rating"] == "below fair"
    verdict = _verdict(questions, 0.8, partnership=0.8, empathy=0.8)
    assert "Counted on their own, which the estimate weighs together with everything else: this session is below" in verdict
    good_counts = _verdict(GOOD_MI, 0.2, partnership=0.2, empathy=0.2)  # R:Q 2 and 50% complex: good on both
    assert "Counted on their own, which the estimate weighs together with everything else: this session meets" in good_counts
    assert "Counted on their own" not in _verdict(questions, 0.1, partnership=0.2, empathy=0.2)
    assert "Counted on their own" not in _verdict(LECTURE, 0.8)  # no reflections: too few to judge, nothing to bridge


def test_coach_document_is_recogniser_style():
    assert coach_document(LECTURE).startswith("you need to stop drinking drinking is going")
    fillers = pd.DataFrame([coach("Um, so, mm-hmm, you want to, uh, cut down.")], columns=COLUMNS)
    assert coach_document(fillers) == "so you want to cut down"  # recognisers drop hesitations
    assert "i don't think" not in coach_document(LECTURE)  # the client's words are not the coach's


def test_shipped_model_prefers_good_mi_to_a_lecture():
    assert ARTIFACT.exists() and ARTIFACT.stat().st_size < 1_000_000
    model = FidelityModel()
    good = model.estimate(GOOD_MI, compute_metrics(GOOD_MI))
    bad = model.estimate(LECTURE, compute_metrics(LECTURE))
    assert good.mi_quality_probability > bad.mi_quality_probability + 0.2
    assert good.globals.relational > bad.globals.relational
    assert good.globals.technical > bad.globals.technical
    for name in GLOBAL_NAMES:
        assert 0.0 <= getattr(good.globals, name) <= 1.0  # probabilities
        assert 0 <= good.globals.as_dict()[name] <= 100  # shown as indices
