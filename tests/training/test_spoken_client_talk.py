"""The hand-written spoken client turns: their files, their transcripts, and a held-out test kept apart."""

import pandas as pd
import pytest

from mifidelity.coding.base import CLIENT_TALK_COLUMN, LABELS
from mifidelity.training.data import TASKS
from mifidelity.training.spoken_client_talk import (
    SPOKEN_CLIENT_TALK_TEST, SPOKEN_CLIENT_TALK_TRAIN, SPOKEN_ID_BASE, SPOKEN_PACK, load_spoken_client_talk,
    spoken_client_talk_rows,
)


def test_the_held_out_turns_share_no_text_and_no_topic_with_the_training_turns():
    train, test = load_spoken_client_talk(SPOKEN_CLIENT_TALK_TRAIN), load_spoken_client_talk(SPOKEN_CLIENT_TALK_TEST)
    assert not set(train["text"].str.lower()) & set(test["text"].str.lower())
    assert not set(train["topic"]) & set(test["topic"])
    for turns in (train, test):  # every direction is taught and tested on every topic
        per_topic = turns.groupby("topic")["label"].nunique()
        assert (per_topic == len(LABELS[CLIENT_TALK_COLUMN])).all(), per_topic


def test_training_turns_become_transcripts_with_the_coach_turn_before_each_uncoded():
    turns = load_spoken_client_talk(SPOKEN_CLIENT_TALK_TRAIN)
    rows = spoken_client_talk_rows(weight=2.0)
    client, coach = rows[rows["role"] == "client"], rows[rows["role"] == "coach"]
    assert client["text"].tolist() == turns["text"].tolist()
    assert client[CLIENT_TALK_COLUMN].tolist() == turns["label"].tolist()
    assert len(coach) == (turns["previous_coach"] != "").sum()
    assert coach[list(TASKS)].isna().all().all()  # nothing is taught about the coach turns
    assert client.drop(columns=CLIENT_TALK_COLUMN)[[t for t in TASKS if t != CLIENT_TALK_COLUMN]].isna().all().all()
    assert (rows["transcript_id"] <= SPOKEN_ID_BASE).all()
    assert rows.groupby("transcript_id")["role"].apply(lambda r: (r == "client").sum()).max() == SPOKEN_PACK
    # utterances numbered in order within each transcript, each coach turn right before its client turn
    for _, transcript in rows.groupby("transcript_id"):
        assert transcript["utterance_id"].tolist() == list(range(len(transcript)))
        roles = transcript["role"].tolist()
        assert all(roles[i + 1] == "client" for i, role in enumerate(roles) if role == "coach")
    assert set(rows["source"]) == {"spoken"} and set(rows["weight"]) == {2.0}


def test_a_file_with_an_unknown_label_or_a_missing_column_is_refused(tmp_path):
    bad_label = tmp_path / "bad_label.csv"
    pd.DataFrame({"text": ["I'm not stopping."], "label": ["resist"], "previous_coach": [""], "target": ["x"],
                  "topic": ["y"]}).to_csv(bad_label, index=False)
    with pytest.raises(ValueError, match="unknown client-talk label"):
        load_spoken_client_talk(bad_label)
    no_topic = tmp_path / "no_topic.csv"
    pd.DataFrame({"text": ["I'm not stopping."], "label": ["sustain"], "previous_coach": [""],
                  "target": ["x"]}).to_csv(no_topic, index=False)
    with pytest.raises(ValueError, match="missing column"):
        load_spoken_client_talk(no_topic)
