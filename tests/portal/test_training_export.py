"""The export reaches the coder's training code: `mifidelity corrections export` -> load_corrections -> training rows."""

import numpy as np
import pytest

from mifidelity.coding.base import LABELS
from mifidelity.training.data import TASKS, load_corrections
from mifidelity.training.train import label_matrix
from mifidelity.portal.corrections import write_training_csv

from portal.helpers import Browser


@pytest.fixture
def exported(fresh_app, tmp_path):
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A")
    boss.login("boss")
    coach.post("/sessions/a-first/utterances/3/feedback", {"proposal": "question=closed"})
    coach.post("/sessions/a-first/utterances/3/feedback", {"proposal": "adherence=none"})
    coach.post("/sessions/a-first/utterances/5/feedback", {"proposal": "giving_information=False"})
    coach.post("/sessions/a-first/utterances/1/feedback", {"proposal": "client_talk=neutral"})
    coach.post("/sessions/a-second/utterances/2/feedback", {"proposal": "reflection=simple"})
    for correction_id in (1, 2, 3, 5):
        boss.post(f"/corrections/{correction_id}/decision", {"decision": "accept"})
    boss.post("/corrections/4/decision", {"decision": "reject"})
    path = tmp_path / "corrections.csv"
    summary = write_training_csv(fresh_app.state.portal.store, fresh_app.state.portal.library.out_dir, path)
    assert (summary.rows, summary.corrections) == (3, 4)
    return path


def test_exported_corrections_load_as_training_rows(exported):
    data = load_corrections(exported)
    assert list(data["session_id"]) == ["a-first", "a-first", "a-second"]
    assert list(data["transcript_id"]) == [-1, -1, -2]  # AnnoMI's ids are not negative
    assert list(data["utterance_id"]) == [3, 5, 2]
    first = data.iloc[0]
    assert first["question"] == "closed" and first["main_behaviour"] is None and first["client_talk"] is None
    assert data.iloc[1]["giving_information"] is False  # a bool, like AnnoMI's
    labels = label_matrix(data)  # the training code's own view: only corrected codes carry a label
    assert labels["question"].tolist() == [LABELS["question"].index("closed"), -1, -1]
    assert labels["reflection"].tolist() == [-1, -1, LABELS["reflection"].index("simple")]
    assert (labels["client_talk"] == -1).all() and (labels["main_behaviour"] == -1).all()
    assert set(TASKS) <= set(data.columns)


def test_a_file_that_is_not_an_export_is_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("transcript_id,utterance_id,role,text,main_behaviour,question,reflection,giving_information,client_talk\n"
                   "s,0,coach,Hello?,question,sideways,,,\n")
    with pytest.raises(ValueError, match="sideways"):
        load_corrections(bad)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a corrections export"):
        load_corrections(tmp_path / "other.csv")


@pytest.mark.slow
def test_the_evaluation_reports_the_coders_agreement_with_the_corrections(exported):
    from mifidelity.training.scores import correction_agreement

    table = correction_agreement(load_corrections(exported))
    assert set(table["code"]) == {"question", "giving_information", "reflection"}
    assert table["corrections"].sum() == 3
    assert np.all(table["coder_agrees"] <= table["corrections"])
