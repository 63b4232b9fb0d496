"""Fine-tuning the adherence coder: what training sees is what the shipped coder computes."""

from __future__ import annotations

import numpy as np
import pytest

from mifidelity.coding.adherence import ADHERENCE_LABELS, AdherenceModel
from mifidelity.training.adherence import (
    FrozenStates, TuningSettings, fine_tune, predict, training_examples,
)
from mifidelity.training.adherence_data import ExampleSet

TEXTS = {
    "affirm": ["You kept at it all week, that took real effort.", "You've been so determined about this."],
    "persuade": ["You have to stop drinking on weeknights.", "You really need to take your tablets."],
    "none": ["How often do you go for a walk?", "So the mornings are the hardest part."],
}


def tiny_set(source: str = "spoken") -> ExampleSet:
    texts = [t for label in TEXTS for t in TEXTS[label]]
    labels = np.array([ADHERENCE_LABELS.index(label) for label in TEXTS for _ in TEXTS[label]])
    return ExampleSet(source, texts, labels, np.full(len(texts), -1))


def test_training_examples_use_both_versions_and_weigh_sources_and_rare_codes():
    gold = ExampleSet("gold", ["You should try it.", "Have you tried it?"],
                      np.array([ADHERENCE_LABELS.index("persuade"), 0]), np.array([0, 1]))
    keys, labels, weights = training_examples([tiny_set(), gold])
    assert len(keys) == 2 * 8 and {v for v, _ in keys} == {"clean", "asr"}
    assert keys[0] == ("clean", TEXTS["affirm"][0]) and keys[6][0] == "asr"
    assert weights.mean() == pytest.approx(1.0)
    spoken_none, gold_none = weights[4], weights[13]
    assert spoken_none == pytest.approx(3 * gold_none)  # source weights: spoken 3, gold 1
    # affirm (2 spoken examples) is rarer than none (2 spoken + 1 gold): each affirm weighs more
    assert weights[0] > spoken_none


@pytest.mark.slow
def test_a_saved_model_predicts_what_training_predicted(tmp_path):
    settings = TuningSettings(epochs=12, batch_size=4, threads=1)
    frozen = FrozenStates(settings)
    examples = tiny_set()
    net = fine_tune(frozen, [examples], settings)
    during_training = predict(net, frozen, examples, "clean")
    path = tmp_path / "adherence.npz"
    AdherenceModel.save(path, net.tuned_state(), net.head.weight.detach().numpy(), net.head.bias.detach().numpy(),
                        {"labels": list(ADHERENCE_LABELS), "tuned_layers": settings.tuned_layers})
    shipped = AdherenceModel.load(path).predict_proba(examples.texts)
    # float16 storage of the tuned layers is the only difference
    assert np.abs(shipped - during_training).max() < 0.02
    assert (shipped.argmax(1) == during_training.argmax(1)).all()
    # and training moved the model: every example is now coded as labelled
    assert (during_training.argmax(1) == examples.labels).mean() >= 5 / 6


def test_persuade_with_permission_is_taught_only_where_the_utterance_shows_it(tmp_path):
    from mifidelity.training.adherence_data import SPOKEN_TRAIN, forum_label, load_spoken

    path = tmp_path / "spoken.csv"
    path.write_text("text,label,previous_client\n"
                    "\"If it's okay with you, you could try the patches.\",persuade_with_permission,\n"
                    "You could try the patches.,persuade_with_permission,Any tips?\n"
                    "You need to stop.,persuade,I had a bad week.\n")
    kept = load_spoken(path, permission_in_utterance=True)
    assert kept.texts == ["If it's okay with you, you could try the patches.", "You need to stop."]
    assert len(load_spoken(path)) == 3  # the held-out test set is read whole
    shipped = load_spoken(SPOKEN_TRAIN, permission_in_utterance=True)
    assert 0 < len(shipped) < len(load_spoken(SPOKEN_TRAIN))
    # mi-forum's "Advise with Permission" is hedged advice without permission: MITI's Persuade
    assert forum_label("Advise with Permission") == forum_label("Advise without Permission") == "persuade"
