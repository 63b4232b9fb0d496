"""Training the session model on several collections: data, weights, held-out group splits, uncertainty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mifidelity.metrics import coach_volleys
from mifidelity.training.fidelity import (
    FORMAT_VERSION, fit_logistic, parameter_variance, session_rows, session_weights, splits,
)
from mifidelity.training.hlqc import GROUP_OFFSET, load_hlqc
from mifidelity.training.session_data import RatedSession, truncated

COLUMNS = ["role", "text", "main_behaviour", "question", "reflection", "giving_information", "adherence", "client_talk"]


def _coded(volleys: int) -> pd.DataFrame:
    rows = []
    for i in range(volleys):
        rows.append(["coach", f"so you want to cut down {i}", "reflection", "none", "simple", False, "none", None])
        rows.append(["coach", "what would help", "question", "open", "none", False, "none", None])
        rows.append(["client", "i want to stop", None, None, None, None, None, "change"])
    return pd.DataFrame(rows, columns=COLUMNS)


def _session(name, collection, group, version="asr", high=True, topic="unknown", volleys=10):
    return RatedSession(id=f"{name}/{version}", session=name, collection=collection, group=group, topic=topic,
                        version=version, high=high, coded=_coded(volleys))


def test_truncated_keeps_the_first_coach_volleys_and_the_label():
    session = _session("a", "hlqc", 1, high=False, volleys=10)
    short = truncated(session, 4)
    assert coach_volleys(short.coded).nunique() == 4
    assert len(short.coded) == 4 * 3 - 1  # the client turn after the 4th volley starts the 5th
    assert short.high is False and short.session == "a" and short.id.endswith("/first4")
    assert truncated(session, 10) is None  # nothing to cut


def test_each_session_counts_once_and_collections_weigh_the_same():
    sessions = [_session(f"annomi-{i}", "annomi", i, version=v) for i in range(6) for v in ("clean", "asr")]
    sessions += [_session(f"hlqc-{i}", "hlqc", GROUP_OFFSET + i) for i in range(3)]
    rows = session_rows(sessions)
    plain = session_weights(rows, "none")
    assert plain[rows["collection"] == "annomi"].sum() == pytest.approx(6)  # two versions, one session
    balanced = session_weights(rows, "collection")
    assert balanced[rows["collection"] == "annomi"].sum() == pytest.approx(balanced[rows["collection"] == "hlqc"].sum())
    assert balanced.sum() == pytest.approx(9)


def test_held_out_groups_never_leak_into_training():
    sessions = []
    for i in range(10):
        for version in ("clean", "asr"):
            sessions.append(_session(f"annomi-{i}", "annomi", i, version=version, high=i % 3 != 0,
                                     topic="alcohol" if i < 5 else "smoking"))
    sessions += [_session(f"hlqc-{i}", "hlqc", i if i < 3 else GROUP_OFFSET + i, high=i % 2 == 0) for i in range(8)]
    rows = session_rows(sessions)
    rows["truncated"] = False
    for scheme in ("pooled", "collection", "topic", "style"):
        folds = splits(rows, scheme, 0)
        assert folds, scheme
        for name, train, test in folds:
            assert not set(rows.loc[train, "group"]) & set(rows.loc[test, "group"]), (scheme, name)
    by_name = {name: (train, test) for name, train, test in splits(rows, "collection", 0)}
    train, test = by_name["hlqc"]
    # HLQC's three twins of AnnoMI videos 0-2 take those AnnoMI transcripts out of training too
    assert set(rows.loc[train, "session"]) == {f"annomi-{i}" for i in range(3, 10)}
    assert set(rows.loc[test, "collection"]) == {"hlqc"}
    for _, train, test in splits(rows, "style", 0):
        assert set(rows.loc[train, "version"]) == {"clean"} and set(rows.loc[test, "version"]) == {"asr"}


def test_parameter_variance_grows_away_from_the_training_data():
    rng = np.random.default_rng(1)
    y = np.array([0] * 60 + [1] * 60)
    x = pd.DataFrame({"a": y + rng.normal(0, 0.8, 120), "b": rng.normal(0, 1, 120)})
    spec = fit_logistic(x, y, 1.0, covariance=True)
    near = parameter_variance(spec, pd.DataFrame({"a": [0.5], "b": [0.0]}))[0]
    far = parameter_variance(spec, pd.DataFrame({"a": [0.5], "b": [12.0]}))[0]
    assert 0 < near < far / 10
    more = fit_logistic(pd.concat([x] * 4, ignore_index=True), np.tile(y, 4), 1.0, covariance=True)
    assert parameter_variance(more, pd.DataFrame({"a": [0.5], "b": [0.0]}))[0] < near  # more data, surer weights


def test_load_hlqc_groups_twins_with_their_annomi_transcript(tmp_path):
    (tmp_path / "transcripts").mkdir()
    for name in ("hlqc-high_001", "hlqc-low_002"):
        (tmp_path / "transcripts" / f"{name}.csv").write_text("role,text\ncoach,hi\nclient,hello\n")
    (tmp_path / "labels.csv").write_text(
        "session,quality,same_video_as_annomi_transcript\nhlqc-high_001,high,68.0\nhlqc-low_002,low,\n")
    sessions = load_hlqc(tmp_path)
    assert sessions["group"].tolist() == [68, GROUP_OFFSET + 1]
    assert sessions["high"].tolist() == [True, False]
    (tmp_path / "labels.csv").write_text("session,quality,same_video_as_annomi_transcript\nhlqc-high_001,great,\n")
    with pytest.raises(ValueError, match="unknown quality"):
        load_hlqc(tmp_path)


def _rated(name, collection, group, high, rng, version="asr", topic="unknown"):
    """A synthetic session: good MI reflects and asks open questions, poor MI lectures."""
    rows = []
    for i in range(int(rng.integers(12, 30))):
        if rng.random() < (0.75 if high else 0.25):
            rows.append(["coach", "it sounds like you want things to change for your family", "reflection", "none",
                         "complex", False, "none", None])
        else:
            rows.append(["coach", "you need to stop this now because it will damage your health", "input", "none",
                         "none", True, "persuade", None])
        rows.append(["client", "i guess so", None, None, None, None, None, "change" if high else "sustain"])
    return RatedSession(id=f"{name}/{version}", session=name, collection=collection, group=group, topic=topic,
                        version=version, high=high, coded=pd.DataFrame(rows, columns=COLUMNS))


@pytest.mark.slow
def test_held_out_validation_runs_end_to_end_and_separates_what_is_separable():
    from mifidelity.training.fidelity import (
        choose_evidence_k, cross_validate, fit_artifact, with_evidence,
    )
    from mifidelity.training.fidelity_report import summary_table
    from mifidelity.fidelity import FidelityModel

    rng = np.random.default_rng(3)
    sessions = []
    for i in range(24):
        for version in ("clean", "asr"):
            sessions.append(_rated(f"annomi-{i}", "annomi", i, i % 4 != 0, rng, version,
                                   topic="alcohol" if i % 2 else "smoking"))
    sessions += [_rated(f"hlqc-{i}", "hlqc", GROUP_OFFSET + i, i % 2 == 0, rng) for i in range(24)]
    rows = session_rows(sessions).assign(truncated=False)
    predictions = pd.concat([cross_validate(rows, scheme) for scheme in ("pooled", "collection", "topic")],
                            ignore_index=True)
    predictions = with_evidence(predictions, choose_evidence_k(predictions))
    assert set(predictions["scheme"]) == {"pooled", "collection", "topic"}
    table = summary_table(predictions)
    assert "| pooled | hlqc | asr | 24 |" in table and "| collection | annomi | clean | 24 |" in table
    full = predictions[predictions["scheme"] == "pooled"]
    high, low = full.loc[full["high"], "mi_quality"], full.loc[~full["high"], "mi_quality"]
    assert high.mean() > low.mean() + 0.3
    spec = fit_artifact(rows, "stacked", "collection", 8.0)
    assert spec["version"] == FORMAT_VERSION == 3 and spec["evidence"]["k"] == 8.0 and "covariance" in spec["models"]["mi_quality"]


def test_evidence_constant_is_the_most_cautious_one_the_data_cannot_tell_from_the_best():
    from mifidelity.fidelity import EVIDENCE_FEATURE
    from mifidelity.training.fidelity import EVIDENCE_GRID, choose_evidence_k

    rng = np.random.default_rng(0)
    high = rng.random(2000) < 0.5
    # Log-odds that are right and sure: any shrinkage costs log loss on every row, so no shrinkage is chosen.
    sure = pd.DataFrame({"high": high, "log_odds": np.where(high, 4.0, -4.0), "parameter_variance": 0.0,
                         EVIDENCE_FEATURE: 4.0})
    assert choose_evidence_k(sure) == 0.0
    # Half of them turned into noise: shrinking them helps, so a constant above zero is chosen.
    noisy = sure.assign(log_odds=np.where(rng.random(2000) < 0.5, sure["log_odds"], rng.normal(0, 4, 2000)))
    chosen = choose_evidence_k(noisy)
    assert chosen > 0.0
    # Pure noise: every amount of shrinkage helps; the most cautious constant is chosen.
    assert choose_evidence_k(sure.assign(log_odds=rng.normal(0, 3, 2000))) == max(EVIDENCE_GRID)


def test_several_seeds_out_of_fold_codes_are_averaged_and_must_line_up(tmp_path):
    """As the shipped coder averages its two artifacts, the session model learns from the mean of their codes."""
    from mifidelity.training.data import TASKS, VERSIONS
    from mifidelity.training.session_data import coder_probabilities

    data = pd.DataFrame({"transcript_id": [3, 3, 8], "utterance_id": [0, 1, 0]})
    rng = np.random.default_rng(0)
    runs = []
    for seed in ("a", "b"):
        arrays = {"transcript_id": data["transcript_id"].to_numpy(), "utterance_id": data["utterance_id"].to_numpy()}
        for version in VERSIONS:
            for task in TASKS:
                value = rng.dirichlet(np.ones(3), size=3)
                arrays[f"model/{version}/{task}"] = value
        np.savez(tmp_path / f"{seed}.npz", **arrays)
        runs.append(arrays)
    both = coder_probabilities([tmp_path / "a.npz", tmp_path / "b.npz"], data)
    one = coder_probabilities(tmp_path / "a.npz", data)
    for version in VERSIONS:
        for task in TASKS:
            key = f"model/{version}/{task}"
            np.testing.assert_allclose(both[version][task], (runs[0][key] + runs[1][key]) / 2)
            np.testing.assert_allclose(one[version][task], runs[0][key])
    with pytest.raises(ValueError, match="row-aligned"):
        coder_probabilities([tmp_path / "a.npz"], data.iloc[::-1].reset_index(drop=True))
    with pytest.raises(ValueError, match="no out-of-fold"):
        coder_probabilities([], data)
