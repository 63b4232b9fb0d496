"""The MI-adherence coder: real bundled model, offline.

The example sentences are in none of the training files (checked below), so a pass means the
model generalises to them rather than remembering them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mifidelity.coding.adherence import (ADHERENCE_LABELS, DEFAULT_ARTIFACT, DEFAULT_ARTIFACTS, SHIPPED_SEEDS, AdherenceCoder,
                                        AdherenceModel)
from mifidelity.coding.base import MI_ADHERENT, MI_NON_ADHERENT
from mifidelity.coding.features import strip_asr

CLEAR_EXAMPLES = {
    "affirm": "You've worked really hard to get your walking up to five days a week, that's a real achievement.",
    "seeking_collaboration": "Would it be all right with you if we talked a little about your evening snacking?",
    "emphasizing_autonomy": "Whether you make any changes at all is completely your decision.",
    "persuade": "You need to stop buying scratch cards straight away.",
    "persuade_with_permission": "Some people find a pill organiser helps them remember, but see if that would suit you.",
    "confront": "You're just making excuses for not doing your exercises.",
    "none": "How many cups of coffee do you have in the morning?",
}

# Soft advice with no permission asked or given and the choice not left to the client: MITI 4.2.1 and
# MISC 2.5 code it Persuade (advice without permission), however politely it is put. Adherence
# coder version 2 called 9 of these 10 Persuade with Permission, which counts in neither MITI sum.
HEDGED_ADVICE = [
    "You might want to think about cutting down on the takeaways.",
    "Maybe try going to bed a bit earlier on weeknights.",
    "It could be worth looking into a support group near you.",
    "Probably a good idea to keep a food diary for a couple of weeks.",
    "I'd look at getting the patches if I were you.",
    "You may find it easier if you just stop buying it in the first place.",
    "One thing that would help is walking to work a couple of days a week.",
    "Perhaps you could talk to your GP about the sleeping tablets.",
    "It might be good to swap the energy drinks for water in the afternoons.",
    "Something to consider would be setting a limit before you go out.",
]


@pytest.fixture(scope="module")
def coder() -> AdherenceCoder:
    return AdherenceCoder().load()


def test_examples_are_not_training_sentences():
    from mifidelity.training.adherence_data import SPOKEN_TRAIN

    training = set(pd.read_csv(SPOKEN_TRAIN)["text"].str.lower())
    assert not training & {t.lower() for t in [*CLEAR_EXAMPLES.values(), *HEDGED_ADVICE]}


@pytest.mark.parametrize("label", list(CLEAR_EXAMPLES))
def test_clear_spoken_examples_get_their_label(coder, label):
    codes = coder.code(["coach"], [CLEAR_EXAMPLES[label]])
    assert codes.loc[0, "adherence"] == label


def test_stripped_text_keeps_most_labels(coder):
    texts = [strip_asr(t) for t in CLEAR_EXAMPLES.values()]
    codes = coder.code(["coach"] * len(texts), texts)
    agree = sum(got == want for got, want in zip(codes["adherence"], CLEAR_EXAMPLES))
    assert agree >= len(texts) - 1


def test_output_shape_order_and_client_rows(coder):
    roles = ["coach", "client", "coach", "client", "coach"]
    texts = [CLEAR_EXAMPLES["seeking_collaboration"], "I walked every day last week.", CLEAR_EXAMPLES["affirm"],
             "I don't know.", CLEAR_EXAMPLES["confront"]]
    codes = coder.code(roles, texts)
    assert list(codes.columns) == ["adherence", "adherence_confidence"]
    assert isinstance(codes.index, pd.RangeIndex) and len(codes) == len(roles)
    assert codes["adherence"].tolist() == ["seeking_collaboration", None, "affirm", None, "confront"]
    assert codes.loc[1, "adherence_confidence"] is None and codes.loc[3, "adherence_confidence"] is None
    assert all(0.0 < codes.loc[i, "adherence_confidence"] <= 1.0 for i in (0, 2, 4))
    probabilities = coder.predict_proba(roles, texts)
    assert probabilities.shape == (5, len(ADHERENCE_LABELS))
    assert np.allclose(probabilities.sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("version", ["as written", "without punctuation"])
def test_soft_advice_without_permission_is_persuade(coder, version):
    texts = HEDGED_ADVICE if version == "as written" else [strip_asr(t) for t in HEDGED_ADVICE]
    codes = coder.code(["coach"] * len(texts), texts)["adherence"].tolist()
    assert codes.count("persuade") >= 8, codes
    assert codes.count("persuade_with_permission") <= 1, codes


def test_autonomy_about_a_named_option(coder):
    # the frozen-encoder coder (model version 1) read this as persuade_with_permission
    text = "Whether you switch to the nicotine gum or not is completely your decision."
    assert coder.code(["coach"], [text]).loc[0, "adherence"] == "emphasizing_autonomy"


def test_the_behaviour_coders_frozen_bottom_stands_in_for_the_lower_layers(coder):
    """Starting from the behaviour coder's layer-2 states gives the probabilities of a full encoder pass."""
    from mifidelity.coding.context import BOTTOM_LAYERS
    from mifidelity.coding.trained import get_bottom

    roles = ["coach"] * len(CLEAR_EXAMPLES) + ["client", "coach"]
    texts = list(CLEAR_EXAMPLES.values()) + ["I walked every day last week.", strip_asr(HEDGED_ADVICE[0])]
    full = coder.predict_proba(roles, texts)
    from_states = coder.predict_proba(roles, texts, lower_states=get_bottom().encode(texts), lower_layers=BOTTOM_LAYERS)
    np.testing.assert_allclose(from_states, full, atol=0.02)  # bfloat16 rounding where the CPU has it
    assert (from_states.argmax(1) == full.argmax(1)).all()
    with pytest.raises(ValueError, match="states"):
        coder.predict_proba(roles, texts, lower_states=get_bottom().encode(texts[:-1]), lower_layers=BOTTOM_LAYERS)
    # states from above the artifact's lowest fine-tuned layer would skip it: refused, not silently wrong
    with pytest.raises(ValueError, match="skip this artifact's fine-tuned layer"):
        coder.predict_proba(roles, texts, lower_states=get_bottom().encode(texts), lower_layers=coder._models[0].first_tuned + 1)


def test_empty_session(coder):
    codes = coder.code([], [])
    assert len(codes) == 0 and list(codes.columns) == ["adherence", "adherence_confidence"]


def test_mismatched_lengths_raise(coder):
    with pytest.raises(ValueError):
        coder.code(["coach", "client"], ["Only one text."])


@pytest.mark.parametrize("artifact", DEFAULT_ARTIFACTS, ids=lambda path: path.name)
def test_artifact_loads_without_pickle(artifact):
    with np.load(artifact, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        assert all(data[name].dtype != object for name in data.files)
        tuned = {name.split(".")[2] for name in data.files if name.startswith("tuned/")}
    assert meta["labels"] == list(ADHERENCE_LABELS)
    # only the fine-tuned top layers ship; the lower ones come from the encoder's package
    assert tuned == {str(6 - meta["tuned_layers"] + i) for i in range(meta["tuned_layers"])}
    assert artifact.stat().st_size < 16_000_000  # four float16 layers and the softmax layer


def test_several_artifacts_are_averaged_and_share_their_package_layers(tmp_path):
    """A coder of two artifacts: the mean of each alone (the package layers below the tuned ones run once)."""
    with np.load(DEFAULT_ARTIFACT, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["head_bias"] = arrays["head_bias"] + np.linspace(-1.0, 1.0, len(ADHERENCE_LABELS), dtype=np.float32)
    other = tmp_path / "adherence-other.npz"
    np.savez(other, **arrays)
    texts = [*CLEAR_EXAMPLES.values(), *HEDGED_ADVICE]
    roles = ["coach"] * len(texts)
    alone = [AdherenceCoder(path).predict_proba(roles, texts) for path in (DEFAULT_ARTIFACT, other)]
    assert not np.allclose(alone[0], alone[1], atol=1e-3)
    both = AdherenceCoder([DEFAULT_ARTIFACT, other]).predict_proba(roles, texts)
    np.testing.assert_allclose(both, np.mean(alone, axis=0), atol=0.02)  # bfloat16 rounding where the CPU has it
    assert (both.argmax(1) == np.mean(alone, axis=0).argmax(1)).all()
    assert DEFAULT_ARTIFACTS == (DEFAULT_ARTIFACT,) and SHIPPED_SEEDS == (13,)
    with pytest.raises(ValueError, match="fine-tuned"):
        AdherenceCoder().load()._models[0].layer_states(texts, up_to=6)


def test_tuned_layers_change_the_encoder(coder):
    """The artifact's layers replace the bundled ones (a model that ignored them would still load)."""
    from mifidelity.coding.features import load_encoder

    model = coder._models[0]
    _, bundled = load_encoder()
    name = f"encoder.layer.{6 - model.meta['tuned_layers']}.output.dense.weight"
    lowest = "encoder.layer.0.output.dense.weight"
    assert not np.allclose(model.encoder.state_dict()[name].numpy(), bundled.state_dict()[name].numpy())
    assert np.array_equal(model.encoder.state_dict()[lowest].numpy(), bundled.state_dict()[lowest].numpy())


def test_artifact_with_other_labels_is_refused(tmp_path):
    with np.load(DEFAULT_ARTIFACT, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["labels"] = list(reversed(meta["labels"]))
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "other.npz", **arrays)
    with pytest.raises(ValueError, match="labels"):
        AdherenceModel.load(tmp_path / "other.npz")


def test_summary_groups_follow_miti():
    assert set(MI_ADHERENT) == {"affirm", "seeking_collaboration", "emphasizing_autonomy"}
    assert set(MI_NON_ADHERENT) == {"persuade", "confront"}
    assert "persuade_with_permission" not in MI_ADHERENT + MI_NON_ADHERENT
