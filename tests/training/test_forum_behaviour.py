"""The mi-forum gold sentences as a held-out collection for the behaviour coder: mapping and scoring."""

import numpy as np
import pandas as pd
import pytest

from mifidelity.training.adherence_data import FORUM_LABELS
from mifidelity.training.forum_behaviour import (FORUM_BEHAVIOUR, behaviour_scores, code_sentences,
                                                 forum_behaviour)


def test_every_forum_label_the_adherence_mapping_knows_has_a_behaviour():
    assert set(FORUM_LABELS) <= set(FORUM_BEHAVIOUR)
    mapped = forum_behaviour(pd.Series(["Open Question", "Complex Reflection", "Warn", "Support"]))
    assert mapped.values.tolist() == [["question", "open", "none"], ["reflection", "none", "complex"],
                                      ["input", "none", "none"], ["other", "none", "none"]]


def test_an_unknown_forum_label_is_an_error_not_other():
    with pytest.raises(ValueError, match="Reframe"):
        forum_behaviour(pd.Series(["Open Question", "Reframe"]))


def test_scores_are_one_for_perfect_codes_and_drop_for_a_wrong_one():
    truth = forum_behaviour(pd.Series(["Open Question", "Closed Question", "Simple Reflection",
                                       "Complex Reflection", "Give Information", "Affirm"]))
    perfect = behaviour_scores(truth, truth)
    assert (perfect.main, perfect.question, perfect.reflection) == (1.0, 1.0, 1.0)
    wrong = truth.copy()
    wrong.loc[4] = ["reflection", "none", "simple"]  # information coded a reflection
    scores = behaviour_scores(truth, wrong)
    assert scores.main < 1.0 and scores.main_per_class["input"] == 0.0 and scores.main_per_class["question"] == 1.0
    assert scores.confusion.loc["input", "reflection"] == 1 and scores.question == 1.0 and scores.reflection < 1.0


@pytest.mark.slow
def test_the_shipped_coder_codes_plain_sentences_alone_and_after_a_client_turn():
    from mifidelity.coding.trained import TrainedCoder

    coder = TrainedCoder().load()
    texts = ["What brings you in today?", "Do you smoke?"]
    for context in (False, True):
        coded = code_sentences(coder, texts, context)
        assert len(coded) == 2 and coded["main_behaviour"].tolist() == ["question", "question"]
        assert coded["question"].tolist() == ["open", "closed"]


def _forum_folder(tmp_path):
    pd.DataFrame({"text": ["Have you tried a walk after dinner?", "You should stop drinking now.",
                           "It sounds like you feel stuck."],
                  "label": ["Closed Question", "Advise without Permission", "Simple Reflection"]}).to_csv(
        tmp_path / "mi-gold.dev.csv", index=False)
    pd.DataFrame({
        "dialog_id": ["counsel_chat | 0"] * 3 + ["counsel_chat | 4"] * 2,
        "author": ["speaker", "listener", "listener", "speaker", "listener"],
        "text": ["I can't sleep and I feel worthless.", "Sleep   problems are common.", "Thank you for writing.",
                 "My partner and I fight.", "Couples counselling can help."],
        "Cosine label": ["", "Give Information", "", "", "Advise without Permission"],
    }).to_csv(tmp_path / "counselchat-augmented.csv", index=False)
    return tmp_path


def test_forum_sentences_become_training_transcripts_with_codes_where_known(tmp_path):
    from mifidelity.training.forum_behaviour import SILVER_WEIGHT, forum_training_rows

    rows = forum_training_rows(_forum_folder(tmp_path))
    gold, silver = rows[rows["source"] == "gold"], rows[rows["source"] == "silver"]
    assert gold["main_behaviour"].tolist() == ["question", "input", "reflection"]
    assert gold["question"].tolist() == ["closed", "none", "none"]
    assert gold["giving_information"].tolist() == [False, False, False] and set(gold["weight"]) == {1.0}
    assert gold["transcript_id"].nunique() == 1 and gold["utterance_id"].tolist() == [0, 1, 2]  # packed, in order
    assert silver["role"].tolist() == ["client", "coach", "coach", "client", "coach"]
    assert silver["main_behaviour"].tolist() == [None, "input", None, None, "input"]  # uncoded: left out of the loss
    assert silver["giving_information"].tolist() == [None, True, None, None, False]
    assert silver["text"].iloc[1] == "Sleep problems are common." and set(silver["weight"]) == {SILVER_WEIGHT}
    assert silver["transcript_id"].nunique() == 2 and (rows["transcript_id"] < -100_000).all()
    assert rows["client_talk"].isna().all()


def test_forum_rows_fit_the_training_label_matrix(tmp_path):
    pytest.importorskip("torch")
    from mifidelity.training.forum_behaviour import forum_training_rows
    from mifidelity.training.train import label_matrix, row_weight

    rows = forum_training_rows(_forum_folder(tmp_path))
    labels = label_matrix(rows)
    assert labels["main_behaviour"].tolist() == [0, 2, 1, -1, 2, -1, -1, 2]  # question, input, reflection; -1 uncoded
    assert labels["client_talk"].tolist() == [-1] * 8
    assert row_weight(rows).tolist()[:4] == [1.0, 1.0, 1.0, 0.5]
    assert row_weight(rows.drop(columns="weight")).tolist() == [1.0] * 8


def test_missing_forum_files_are_named(tmp_path):
    from mifidelity.training.forum_behaviour import forum_training_rows

    with pytest.raises(FileNotFoundError, match="mi-gold.dev.csv"):
        forum_training_rows(tmp_path)


def _coded_session() -> pd.DataFrame:
    """Four coded AnnoMI-shaped utterances, enough to fit the context coder for one epoch."""
    return pd.DataFrame({
        "transcript_id": 7, "utterance_id": range(4), "role": ["coach", "client", "coach", "client"],
        "text": ["What brings you here?", "I want to drink less.", "You want to cut down.", "Yes, for my kids."],
        "main_behaviour": ["question", None, "reflection", None], "question": ["open", None, "none", None],
        "reflection": ["none", None, "simple", None], "giving_information": [False, None, False, None],
        "client_talk": [None, "change", None, "change"], "n_annotators": 1, "mi_quality": "high",
    })


@pytest.mark.slow
def test_the_context_coder_trains_on_annomi_shaped_rows_and_forum_rows_together(tmp_path):
    pytest.importorskip("torch")
    from mifidelity.training.forum_behaviour import forum_training_rows
    from mifidelity.training.train import fit_model, predict, prepare

    session = _coded_session()
    data = pd.concat([session, forum_training_rows(_forum_folder(tmp_path))], ignore_index=True)
    prepared = prepare(data, cache_dir=None)
    model = fit_model(data, prepared, config={"epochs": 1, "threads": 1})
    assert model.meta["sources"] == ["annomi", "gold", "silver"]
    assert model.meta["n_train_utterances"] == len(data)
    probs = predict(model, data, prepared, "asr", threads=1)
    assert probs["main_behaviour"].shape == (len(data), 4)
    assert np.allclose(probs["main_behaviour"][data["role"] == "coach"].sum(axis=1), 1.0)


@pytest.mark.slow
def test_the_training_seed_sets_the_initialisation_and_is_recorded():
    """``train --seed`` / ``evaluate --seed``: the same seed gives the same model, another seed another one."""
    pytest.importorskip("torch")
    from mifidelity.training.train import SEED, fit_model, predict, prepare

    data = _coded_session()
    prepared = prepare(data, cache_dir=None)

    def fitted(**seed):
        model = fit_model(data, prepared, config={"epochs": 1, "threads": 1, **seed})
        return model.meta["seed"], predict(model, data, prepared, "clean", threads=1)["main_behaviour"]

    default_seed, default = fitted()
    again_seed, again = fitted(seed=SEED)
    other_seed, other = fitted(seed=SEED + 1)
    assert (default_seed, again_seed, other_seed) == (SEED, SEED, SEED + 1)
    assert np.allclose(default, again)
    assert not np.allclose(default, other, atol=1e-4)


def test_forum_sources_are_parsed_and_an_unknown_one_is_refused():
    import argparse

    pytest.importorskip("torch")
    from mifidelity.training.train import forum_sources

    assert forum_sources("gold") == {"gold": True, "silver": False}
    assert forum_sources(" silver , gold ") == {"gold": True, "silver": True}
    for bad in ("", "bronze", "gold,bronze"):
        with pytest.raises(argparse.ArgumentTypeError, match="gold, silver"):
            forum_sources(bad)
