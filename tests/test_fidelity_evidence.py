"""P(good MI) knows how much evidence it has (mifidelity.fidelity.predictive_probability and the v2 artifact)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mifidelity.fidelity import GLOBAL_NAMES, FidelityModel, estimate_fidelity, evidence_volleys, predictive_probability
from mifidelity.metrics import compute_metrics

COLUMNS = ["role", "text", "main_behaviour", "question", "reflection", "giving_information", "adherence", "client_talk"]


def _session(volleys: int) -> pd.DataFrame:
    """``volleys`` coach reflections, each answered by change talk: good MI, repeated."""
    rows = []
    for i in range(volleys):
        rows.append(["coach", f"You want to feel well again for your kids {i}.", "reflection", "none", "complex", False,
                     "none", None])
        rows.append(["client", "Yes, I want to cut down.", None, None, None, None, None, "change"])
    return pd.DataFrame(rows, columns=COLUMNS)


def _artifact(path, evidence_k: float, covariance: list | None = None):
    def logistic(feature, weight):
        return {"features": [feature], "mean": [0.0], "scale": [1.0], "coef": [weight], "intercept": 0.0}
    spec = {"version": 2, "models": {name: logistic("reflections_per_volley", 1.0) for name in GLOBAL_NAMES},
            "text": {"terms": ["should"], "idf": [1.0], "coef": [0.0], "intercept": 0.0},
            "evidence": {"k": evidence_k, "feature": "coach_volleys"}}
    spec["models"]["mi_quality"] = logistic("reflections_per_volley", 4.0)
    if covariance is not None:
        spec["models"]["mi_quality"]["covariance"] = covariance
    path.write_text(json.dumps(spec))
    return FidelityModel(path)


def test_predictive_probability_shrinks_with_few_volleys_and_uncertain_weights():
    sure = predictive_probability(4.0, 0.0, 60, 64.0)
    few = predictive_probability(4.0, 0.0, 6, 64.0)
    assert 0.95 < sure < 0.99 and 0.5 < few < sure - 0.05
    assert predictive_probability(4.0, 0.0, 6, 0.0) == pytest.approx(1 / (1 + np.exp(-4.0)))  # k = 0: plain logistic
    unlike = predictive_probability(4.0, 25.0, 60, 64.0)  # far from the training data: weights uncertain
    assert 0.5 < unlike < few
    assert predictive_probability(-4.0, 0.0, 6, 64.0) == pytest.approx(1 - few)  # symmetric about 50%
    arrays = predictive_probability(np.array([4.0, 4.0]), np.zeros(2), np.array([6, 60]), 64.0)
    assert arrays[0] == pytest.approx(few) and arrays[1] == pytest.approx(sure)


def test_a_short_session_is_told_either_way_and_says_why(tmp_path):
    model = _artifact(tmp_path / "m.json", evidence_k=400.0)
    long, short = _session(120), _session(6)
    long_estimate = model.estimate(long, compute_metrics(long))
    short_estimate = model.estimate(short, compute_metrics(short))
    # same rates (one complex reflection per volley), so the same log-odds before the evidence
    assert short_estimate.evidence["log_odds"] == long_estimate.evidence["log_odds"] == pytest.approx(4.0)
    assert long_estimate.mi_quality_probability >= 0.9
    assert 0.5 < short_estimate.mi_quality_probability < 0.7  # "either way", not 0.98
    assert short_estimate.evidence["coach_volleys"] == 6
    assert short_estimate.caveat and "only 6 coach turns" in short_estimate.caveat
    assert long_estimate.caveat is None


def test_a_session_unlike_the_training_data_is_less_sure(tmp_path):
    near = _artifact(tmp_path / "near.json", 0.0, covariance=[[0.01, 0.0], [0.0, 0.01]])
    far = _artifact(tmp_path / "far.json", 0.0, covariance=[[4.0, 0.0], [0.0, 0.01]])
    session = _session(40)
    p_near = near.estimate(session, compute_metrics(session))
    p_far = far.estimate(session, compute_metrics(session))
    assert p_near.mi_quality_probability > 0.97
    assert p_far.mi_quality_probability < p_near.mi_quality_probability - 0.05
    assert p_far.evidence["log_odds_sd"] > p_near.evidence["log_odds_sd"]


def test_shipped_artifact_knows_its_evidence():
    """The bundled model: the same good-MI exchange, 6 volleys against 40, is less decided when short.

    That the evidence step pulls the short session further towards 0.5 is checked. The level of this
    synthetic exchange (every volley a complex reflection answered by change talk, hand codes: beyond
    anything in the training sessions) moves with every refit: 6 volleys 0.84 with the model fitted on
    coder version 5's codes, 0.94 on version 6's counted codes, 0.97 since the features read expected
    counts (their training values are never this extreme). Issue 25's complaint (0.96-0.99 for real
    sessions of 6-8 coach turns, often wrong) is checked on real held-out sessions instead:
    docs/fidelity-generalisation.md, "Whole sessions by length" (2-8 coach volleys: "likely good"
    right 25 of 26 times, held out).
    """
    short, long = _session(6), _session(40)
    e_short = estimate_fidelity(short.assign(adherence="none"), compute_metrics(short))
    e_long = estimate_fidelity(long.assign(adherence="none"), compute_metrics(long))
    p_short, p_long = e_short.mi_quality_probability, e_long.mi_quality_probability
    assert abs(p_short - 0.5) < abs(p_long - 0.5)
    pulled_short = e_short.evidence["probability_before_evidence"] - p_short
    pulled_long = e_long.evidence["probability_before_evidence"] - p_long
    assert pulled_short > pulled_long > 0.0  # both: a synthetic exchange is unlike the training sessions
    assert e_short.evidence["log_odds_sd"] > e_long.evidence["log_odds_sd"]
    assert p_short < 0.99  # never "certain" on six turns


def test_uncertain_codes_count_as_less_evidence(tmp_path):
    model = _artifact(tmp_path / "m.json", evidence_k=400.0)
    sure, unsure = _session(40), _session(40)
    sure["main_behaviour_confidence"] = np.where(sure["role"] == "coach", 0.98, None)
    sure["client_talk_confidence"] = np.where(sure["role"] == "client", 0.98, None)
    unsure["main_behaviour_confidence"] = np.where(unsure["role"] == "coach", 0.55, None)
    unsure["client_talk_confidence"] = np.where(unsure["role"] == "client", 0.55, None)
    assert evidence_volleys(sure) == (40, pytest.approx(0.96))
    assert evidence_volleys(unsure) == (40, pytest.approx(0.1))
    assert evidence_volleys(_session(40)) == (40, 1.0)  # hand codes: no confidences, taken as given
    p_sure = model.estimate(sure, compute_metrics(sure))
    p_unsure = model.estimate(unsure, compute_metrics(unsure))
    assert p_sure.evidence["log_odds"] == p_unsure.evidence["log_odds"]  # same codes
    assert abs(p_unsure.mi_quality_probability - 0.5) < abs(p_sure.mi_quality_probability - 0.5) - 0.1
    assert p_unsure.caveat and "unsure" in p_unsure.caveat


def test_a_probability_is_never_shown_as_certain():
    from mifidelity.fidelity import probability_shown

    assert probability_shown(0.995) == probability_shown(1.0) == "over 99%"
    assert probability_shown(0.004) == probability_shown(0.0) == "under 1%"
    assert probability_shown(0.7) == "70%" and probability_shown(None) == "–"
