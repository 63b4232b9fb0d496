"""Fitting the session estimates (mifidelity.training.fidelity): sign-constrained and text models."""

import numpy as np
import pandas as pd

from mifidelity.training.fidelity import common_vocabulary, fit_logistic, fit_text, predict_logistic, text_log_odds


def test_fit_logistic_drops_features_against_their_construct():
    rng = np.random.default_rng(0)
    y = np.array([0] * 40 + [1] * 40)
    x = pd.DataFrame({"helps": y + rng.normal(0, 0.5, 80), "hurts_but_fits_up": y + rng.normal(0, 0.5, 80)})
    spec = fit_logistic(x, y, 1.0, {"helps": +1, "hurts_but_fits_up": -1})
    assert spec["features"] == ["helps"] and spec["coef"][0] > 0
    assert predict_logistic(spec, x)[y == 1].mean() > predict_logistic(spec, x)[y == 0].mean()


def test_fit_logistic_keeps_the_least_wrong_feature_when_every_one_contradicts_its_sign():
    rng = np.random.default_rng(0)
    y = np.array([0] * 40 + [1] * 40)
    x = pd.DataFrame({"strong": y * 2 + rng.normal(0, 0.5, 80), "weak": y * 0.3 + rng.normal(0, 0.5, 80)})
    spec = fit_logistic(x, y, 1.0, {"strong": -1, "weak": -1})  # both go up with y, both are said to go down
    assert spec["features"] == ["weak"]


def test_text_model_round_trip():
    documents = ["you should stop that now", "you must stop that now", "so what would help you", "so what would you like"] * 3
    y = np.array([0, 0, 1, 1] * 3)
    spec = fit_text(documents, y)
    odds = text_log_odds(spec, ["you should stop now", "what would help"])
    assert odds[0] < 0 < odds[1]


def test_text_model_reads_words_every_collection_uses_not_one_collections_topic():
    # "teeth" is in every document of the first collection and none of the second: a topic, not a style.
    first = ["you need to brush your teeth", "so you feel your teeth hurt", "you need to floss your teeth"] * 2
    second = ["you need to take the tablets", "so you feel tired", "you need to rest more"] * 2
    collections = ["dental"] * len(first) + ["clinic"] * len(second)
    terms = common_vocabulary(first + second, collections, share=0.3)
    assert "teeth" not in terms and "your teeth" not in terms
    assert {"you", "need", "need to", "you need"} <= set(terms)
    # One collection alone: its own frequent words are common.
    assert "teeth" in common_vocabulary(first, share=0.3)
