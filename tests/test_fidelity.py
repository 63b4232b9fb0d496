"""Session estimates (mifidelity.fidelity): features, the artifact's models and verdicts.

The training helpers are tested in tests/coding/training/test_fidelity.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mifidelity.fidelity import (
    ARTIFACT, CONSTRUCTS, GLOBAL_NAMES, FidelityModel, GlobalScores, coach_document, session_features, session_verdict,
)
from mifidelity.metrics import assess, compute_metrics

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


def test_global_scores_summaries_and_miti_ratings():
    scores = GlobalScores(cultivating_change_talk=4.5, softening_sustain_talk=3.5, partnership=3.5, empathy=3.4)
    out = scores.as_dict()
    assert out["technical"] == 4.0 and out["technical_rating"] == "good"
    assert out["relational"] == 3.45 and out["relational_rating"] == "below fair"  # fair is 3.5


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
    expected = 1 + 4 / (1 + np.exp(-3.0 * 2 / 4))
    assert estimate.globals.empathy == pytest.approx(expected, abs=0.01)
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
    assert "Technical" in verdict and "relational" in verdict
    assert session_verdict(assess(metrics), None).startswith(("This session", "Too few"))


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
        assert 1.0 <= getattr(good.globals, name) <= 5.0
