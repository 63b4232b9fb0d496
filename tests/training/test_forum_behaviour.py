"""The mi-forum gold sentences as a held-out collection for the behaviour coder: mapping and scoring."""

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
