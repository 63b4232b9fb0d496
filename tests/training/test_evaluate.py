"""The behaviour coder's evaluation helpers: expert agreement and the saved out-of-fold probabilities."""

import numpy as np
import pandas as pd
import pytest

from mifidelity.coding.base import CODE_COLUMNS


def test_expert_agreement_scores_each_expert_and_the_coder_against_the_others():
    pytest.importorskip("sklearn")
    from mifidelity.training.scores import expert_agreement

    # One transcript, four client utterances, three annotators; annotator "c" disagrees on utterance 3.
    votes = {"a": ["change", "sustain", "neutral", "neutral"],
             "b": ["change", "sustain", "neutral", "neutral"],
             "c": ["change", "sustain", "neutral", "change"]}
    annotators = pd.DataFrame([
        {"transcript_id": 7, "utterance_id": u, "annotator_id": who, "role": "client", "client_talk": label,
         **{t: None for t in CODE_COLUMNS if t != "client_talk"}}
        for who, labels in votes.items() for u, label in enumerate(labels)
    ])
    data = pd.DataFrame({"transcript_id": [7] * 4, "utterance_id": range(4), "role": ["client"] * 4})
    perfect = {t: np.array([None] * 4, dtype=object) for t in CODE_COLUMNS}
    perfect["client_talk"] = np.array(["change", "sustain", "neutral", "neutral"], dtype=object)
    table = expert_agreement(annotators, data, perfect)
    assert list(table.columns) == ["client_talk"] and table.loc["pairs", "client_talk"] == 12
    # Held-out a or b: the others split 1-1 on utterance 3 and the tie goes to "change" (first label),
    # so both disagree there once; held-out c disagrees with a+b's "neutral". 3 of 12 pairs differ.
    assert table.loc["expert", "client_talk"] < 1.0
    assert table.loc["coder", "client_talk"] < 1.0
    wrong = dict(perfect, client_talk=np.array(["neutral"] * 4, dtype=object))
    assert expert_agreement(annotators, data, wrong).loc["coder", "client_talk"] < table.loc["coder", "client_talk"]


def test_out_of_fold_probabilities_are_saved_row_aligned_without_text(tmp_path):
    pytest.importorskip("sklearn")
    from mifidelity.training.evaluate import save_probabilities

    data = pd.DataFrame({"transcript_id": [3, 3, 5], "utterance_id": [0, 1, 0], "text": ["a", "b", "c"]})
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    save_probabilities(str(tmp_path / "oof.npz"), data, {"model": {"clean": {"giving_information": probs}}})
    saved = np.load(tmp_path / "oof.npz")
    assert sorted(saved.files) == ["model/clean/giving_information", "transcript_id", "utterance_id"]
    np.testing.assert_array_equal(saved["model/clean/giving_information"], probs)
    np.testing.assert_array_equal(saved["transcript_id"], [3, 3, 5])
