"""The behaviour coder against another collection's human codes: mi-forum's gold counsellor sentences.

The behaviour coder (main behaviour, question and reflection type) never trained on mi-forum, so its
human-coded sentences (``mi-gold.dev.csv``, Welivita & Pu 2023, CC BY-NC-SA 3.0) are a held-out
collection for it: written forum replies, not speech, coded one sentence at a time. The forum's
labels map to the coder's codes as below; a sentence with no MITI behaviour (Affirm, Support,
Self-Disclose, Other, Confront, Emphasize Autonomy) is main behaviour ``other``, as AnnoMI's experts
code such turns. Advice, directions and warnings are ``input`` (AnnoMI's therapist input covers
information, advice, options and negotiation).

Each sentence is coded alone (no session around it) and after one fixed client turn (the coder
reads the previous turn, so "alone" is not how it runs in a session). Scores only, never text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import LABELS, MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN
from mifidelity.coding.features import strip_asr
from mifidelity.training.data import VERSIONS

GOLD_CSV = "mi-gold.dev.csv"
# mi-forum label -> (main behaviour, question type, reflection type)
FORUM_BEHAVIOUR = {
    "Open Question": ("question", "open", "none"),
    "Closed Question": ("question", "closed", "none"),
    "Simple Reflection": ("reflection", "none", "simple"),
    "Complex Reflection": ("reflection", "none", "complex"),
    "Give Information": ("input", "none", "none"),
    "Advise without Permission": ("input", "none", "none"),
    "Advise with Permission": ("input", "none", "none"),
    "Direct": ("input", "none", "none"),
    "Warn": ("input", "none", "none"),
    "Affirm": ("other", "none", "none"),
    "Emphasize Autonomy": ("other", "none", "none"),
    "Confront": ("other", "none", "none"),
    "Support": ("other", "none", "none"),
    "Self-Disclose": ("other", "none", "none"),
    "Other": ("other", "none", "none"),
}
CLIENT_TURN = "i don't know it's been a hard few weeks and i keep going back and forth about it"


@dataclass(frozen=True)
class BehaviourScores:
    """Macro-F1 of main behaviour (4 codes), question type and reflection type, and main behaviour per class."""

    main: float
    question: float
    reflection: float
    main_per_class: dict[str, float]
    confusion: pd.DataFrame  # rows: forum's code, columns: coder's


def forum_behaviour(labels: pd.Series) -> pd.DataFrame:
    """The coder's codes for mi-forum labels; an unknown label is an error, not silently ``other``."""
    unknown = sorted(set(labels) - set(FORUM_BEHAVIOUR))
    if unknown:
        raise ValueError(f"mi-forum labels without a behaviour mapping: {unknown}")
    rows = [FORUM_BEHAVIOUR[label] for label in labels]
    return pd.DataFrame(rows, columns=[MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN], index=labels.index)


def load_gold_behaviour(forum_dir: str | Path) -> pd.DataFrame:
    """``text`` and the three behaviour codes of every gold sentence."""
    path = Path(forum_dir) / GOLD_CSV
    if not path.is_file():
        raise FileNotFoundError(f"mi-forum gold sentences not found: {path} (pass --forum with the folder)")
    frame = pd.read_csv(path)
    return pd.concat([frame[["text"]].astype(str), forum_behaviour(frame["label"].str.strip())], axis=1)


def code_sentences(coder, texts: list[str], after_client_turn: bool) -> pd.DataFrame:
    """The coder's codes of each coach sentence, alone or right after :data:`CLIENT_TURN`."""
    if after_client_turn:
        return pd.concat([coder.code(["client", "coach"], [CLIENT_TURN, text]).iloc[[1]] for text in texts],
                         ignore_index=True)
    return pd.concat([coder.code(["coach"], [text]) for text in texts], ignore_index=True)


def behaviour_scores(truth: pd.DataFrame, coded: pd.DataFrame) -> BehaviourScores:
    from sklearn.metrics import f1_score

    main_labels = list(LABELS[MAIN_BEHAVIOUR_COLUMN])
    main = (truth[MAIN_BEHAVIOUR_COLUMN].to_numpy(), coded[MAIN_BEHAVIOUR_COLUMN].to_numpy())
    per_class = f1_score(*main, labels=main_labels, average=None, zero_division=0)
    confusion = pd.crosstab(pd.Categorical(main[0], main_labels), pd.Categorical(main[1], main_labels),
                            rownames=["forum"], colnames=["coder"], dropna=False)
    return BehaviourScores(
        main=float(np.mean(per_class)),
        question=float(f1_score(truth[QUESTION_COLUMN], coded[QUESTION_COLUMN], labels=list(LABELS[QUESTION_COLUMN]),
                                average="macro", zero_division=0)),
        reflection=float(f1_score(truth[REFLECTION_COLUMN], coded[REFLECTION_COLUMN],
                                  labels=list(LABELS[REFLECTION_COLUMN]), average="macro", zero_division=0)),
        main_per_class=dict(zip(main_labels, np.round(per_class, 3).tolist())),
        confusion=confusion,
    )


def gold_behaviour_table(coder, gold: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """One row per (text version, context): the three macro-F1 and main behaviour per class; confusions by row name."""
    rows, confusions = [], {}
    for version in VERSIONS:
        texts = gold["text"].tolist() if version == "clean" else [strip_asr(t) for t in gold["text"]]
        for context in (False, True):
            scores = behaviour_scores(gold, code_sentences(coder, texts, context))
            name = f"{version}, {'after a client turn' if context else 'alone'}"
            rows.append({"coded": name, "main": scores.main, QUESTION_COLUMN: scores.question,
                         REFLECTION_COLUMN: scores.reflection, **{f"main F1 {k}": v for k, v in scores.main_per_class.items()}})
            confusions[name] = scores.confusion
    return pd.DataFrame(rows).set_index("coded").round(3), confusions
