"""Hand-written spoken client turns coded change / sustain / neutral: a training set and a held-out test.

``training_data/spoken_client_talk_train.csv`` (450 turns, 15 topics) and
``training_data/spoken_client_talk_test.csv`` (180 turns, 12 other topics, never trained on)
were written for this project: columns ``text``, ``label``, ``previous_coach`` (the coach turn
before it, or empty), ``target`` (the change discussed) and ``topic``. They teach and test the
direction of client talk apart from its topic words (in AnnoMI most talk about drinking or
smoking is change talk, so a coder learns the topic more than the direction): sustain talk
phrased calmly or positively, change talk phrased negatively, neutral turns full of topic words.

:func:`spoken_client_talk_rows` gives the training turns as transcripts in
:func:`~mifidelity.training.data.load_annomi`'s columns (the coach turn before each, where
written, as an uncoded coach row); :func:`spoken_test_scores` codes the test turns with a coder
and returns client-talk macro-F1 as written and lower-cased without punctuation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import CLIENT_TALK_COLUMN, LABELS
from mifidelity.coding.features import strip_asr
from mifidelity.training.adherence_data import TRAINING_DATA
from mifidelity.training.data import TASKS, VERSIONS

SPOKEN_CLIENT_TALK_TRAIN = TRAINING_DATA / "spoken_client_talk_train.csv"
SPOKEN_CLIENT_TALK_TEST = TRAINING_DATA / "spoken_client_talk_test.csv"
SPOKEN_ID_BASE = -3_000_000
SPOKEN_PACK = 6  # turns (with their coach turn) per training transcript, in file order
SPOKEN_WEIGHT = 1.0  # a hand-written turn counts as much as an AnnoMI turn
COLUMNS = ("text", "label", "previous_coach", "target", "topic")


def load_spoken_client_talk(path: str | Path = SPOKEN_CLIENT_TALK_TRAIN) -> pd.DataFrame:
    """The file's rows, checked: the expected columns and only client-talk labels."""
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    frame["label"] = frame["label"].str.strip()
    unknown = set(frame["label"]) - set(LABELS[CLIENT_TALK_COLUMN])
    if unknown:
        raise ValueError(f"{path}: unknown client-talk label(s) {', '.join(sorted(unknown))}")
    return frame.assign(text=frame["text"].str.strip(), previous_coach=frame["previous_coach"].str.strip())


def spoken_client_talk_rows(path: str | Path = SPOKEN_CLIENT_TALK_TRAIN, weight: float = SPOKEN_WEIGHT) -> pd.DataFrame:
    """The training turns as transcripts of :data:`SPOKEN_PACK` exchanges, plus ``source`` and ``weight``."""
    turns = load_spoken_client_talk(path)
    rows = []
    for index, turn in enumerate(turns.itertuples(index=False)):
        transcript = SPOKEN_ID_BASE - index // SPOKEN_PACK
        if turn.previous_coach:
            rows.append({"transcript_id": transcript, "role": "coach", "text": turn.previous_coach})
        rows.append({"transcript_id": transcript, "role": "client", "text": turn.text, CLIENT_TALK_COLUMN: turn.label})
    out = pd.DataFrame(rows)
    for task in TASKS:
        values = out[task] if task in out else pd.Series(None, index=out.index, dtype=object)
        out[task] = values.astype(object).where(values.notna(), None)
    out["utterance_id"] = out.groupby("transcript_id", sort=False).cumcount()
    out["source"], out["weight"], out["n_annotators"], out["mi_quality"] = "spoken", weight, 1, None
    return out


def code_turns(coder, turns: pd.DataFrame, version: str = "clean") -> np.ndarray:
    """The coder's client-talk label of each turn, coded after its coach turn where there is one."""
    def text_of(text: str) -> str:
        return strip_asr(text) if version == "asr" else text

    labels = []
    for turn in turns.itertuples(index=False):
        roles, texts = (["coach", "client"], [text_of(turn.previous_coach), text_of(turn.text)]) if turn.previous_coach \
            else (["client"], [text_of(turn.text)])
        labels.append(coder.code(roles, texts)[CLIENT_TALK_COLUMN].iloc[-1])
    return np.array(labels, dtype=object)


def spoken_test_scores(coder, path: str | Path = SPOKEN_CLIENT_TALK_TEST) -> dict[str, float]:
    """Client-talk macro-F1 on the held-out turns, as written (``clean``) and without punctuation (``asr``)."""
    from sklearn.metrics import f1_score

    turns = load_spoken_client_talk(path)
    labels = list(LABELS[CLIENT_TALK_COLUMN])
    return {version: float(f1_score(turns["label"], code_turns(coder, turns, version), labels=labels,
                                    average="macro", zero_division=0))
            for version in VERSIONS}
