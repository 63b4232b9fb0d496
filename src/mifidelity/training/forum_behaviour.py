"""mi-forum's gold counsellor sentences for the behaviour coder: as training data and as another collection.

mi-forum's human-coded sentences (``mi-gold.dev.csv``, Welivita & Pu 2023, CC BY-NC-SA 3.0) are
written forum replies, not speech, coded one sentence at a time. The forum's labels map to the
coder's codes as below; a sentence with no MITI behaviour (Affirm, Support, Self-Disclose, Other,
Confront, Emphasize Autonomy) is main behaviour ``other``, as AnnoMI's experts code such turns.
Advice, directions and warnings are ``input`` (AnnoMI's therapist input covers information,
advice, options and negotiation).

Scoring (:func:`gold_behaviour_table`): each sentence is coded alone (no session around it) and
after one fixed client turn (the coder reads the previous turn, so "alone" is not how it runs in a
session). Scores only, never text. The shipped coder (model version 6) learnt from these
sentences, so its score on them is in-sample: the held-out figure is ``python -m
mifidelity.training.evaluate --forum DIR``'s, which splits them into the folds.

Training (:func:`forum_training_rows`, ``python -m mifidelity.training.train --forum DIR``): the
sentences shaped like :func:`~mifidelity.training.data.load_annomi`'s rows. Every
:data:`GOLD_PACK` gold sentences in file order (the file is shuffled) are one transcript of coach
turns (one transcript each would make a training step weigh one sentence as much as a session's
chunk); every CounselChat thread is a transcript of the asker's post (a client turn without a
client-talk code) and the answer's sentences (coach turns, coded where the silver ``Cosine
label`` gives a code). Rows carry a ``weight``: gold 1, silver :data:`SILVER_WEIGHT`. The shipped
coder uses the gold sentences only: the silver ones cost AnnoMI 0.06 main-behaviour macro-F1
(docs/model-card.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import (CLIENT_TALK_COLUMN, GIVING_INFORMATION_COLUMN, LABELS, MAIN_BEHAVIOUR_COLUMN,
                                    QUESTION_COLUMN, REFLECTION_COLUMN)
from mifidelity.coding.features import strip_asr
from mifidelity.training.data import VERSIONS

GOLD_CSV = "mi-gold.dev.csv"
SILVER_CSV = "counselchat-augmented.csv"
SILVER_LABEL = "Cosine label"
GOLD_PACK = 8
SILVER_WEIGHT = 0.5  # a silver label (n-gram / similarity matching) counts half a human one
# Transcript ids of forum rows: AnnoMI's are >= 0 and portal corrections' small negatives
# (data.load_corrections), so gold is -1,000,000 - pack and silver -2,000,000 - thread.
GOLD_ID_BASE, SILVER_ID_BASE = -1_000_000, -2_000_000
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


def _coach_rows(transcript_ids, texts, labels: pd.Series, weight: float, source: str) -> pd.DataFrame:
    """Coach rows with the codes of ``labels`` (``""``: no code, left ``None`` so the loss skips it)."""
    known = labels != ""
    codes = forum_behaviour(labels[known])
    frame = pd.DataFrame({"transcript_id": transcript_ids, "role": "coach", "text": texts}, index=labels.index)
    for column in codes.columns:
        values = codes[column].reindex(labels.index).astype(object)
        frame[column] = values.where(values.notna(), None)
    frame[GIVING_INFORMATION_COLUMN] = labels.map(lambda label: None if label == "" else label == "Give Information")
    frame["source"], frame["weight"] = source, weight
    return frame


def forum_training_rows(forum_dir: str | Path, gold: bool = True, silver: bool = True) -> pd.DataFrame:
    """The forum's sentences as training transcripts, in :func:`~mifidelity.training.data.load_annomi`'s columns
    plus ``source`` (``gold`` / ``silver``) and ``weight``; see the module docstring."""
    frames = []
    if gold:
        path = Path(forum_dir) / GOLD_CSV
        if not path.is_file():
            raise FileNotFoundError(f"mi-forum gold sentences not found: {path} (pass --forum with the folder)")
        raw = pd.read_csv(path, keep_default_na=False)
        frames.append(_coach_rows(GOLD_ID_BASE - np.arange(len(raw)) // GOLD_PACK, raw["text"].astype(str),
                                  raw["label"].astype(str).str.strip(), 1.0, "gold"))
    if silver:
        path = Path(forum_dir) / SILVER_CSV
        if not path.is_file():
            raise FileNotFoundError(f"mi-forum CounselChat sentences not found: {path} (pass --forum with the folder)")
        raw = pd.read_csv(path, keep_default_na=False)
        thread = pd.factorize(raw["dialog_id"])[0]
        texts = raw["text"].astype(str).str.replace(r"\s+", " ", regex=True).str.strip()
        listener = raw["author"].eq("listener")
        labels = raw[SILVER_LABEL].astype(str).str.strip().where(listener, "")
        rows = _coach_rows(SILVER_ID_BASE - thread, texts, labels, SILVER_WEIGHT, "silver")
        rows.loc[~listener, "role"] = "client"
        rows.loc[~listener, GIVING_INFORMATION_COLUMN] = None
        frames.append(rows)
    out = pd.concat(frames, ignore_index=True)
    out[CLIENT_TALK_COLUMN] = None
    out["utterance_id"] = out.groupby("transcript_id", sort=False).cumcount()
    out["n_annotators"], out["mi_quality"] = 1, None
    return out[out["text"] != ""].reset_index(drop=True)


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


def condition_name(version: str, after_client_turn: bool) -> str:
    return f"{version}, {'after a client turn' if after_client_turn else 'alone'}"


def gold_codes(coder, texts: list[str]) -> dict[str, pd.DataFrame]:
    """The coder's codes of the sentences (as written) in every condition: text version x context, by name."""
    out = {}
    for version in VERSIONS:
        versioned = list(texts) if version == "clean" else [strip_asr(t) for t in texts]
        for context in (False, True):
            out[condition_name(version, context)] = code_sentences(coder, versioned, context)
    return out


def gold_table(gold: pd.DataFrame, codes: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """One row per condition: the three macro-F1 and main behaviour per class; confusions by condition.

    ``codes`` rows are aligned with ``gold``'s (by position)."""
    rows, confusions = [], {}
    for name, coded in codes.items():
        scores = behaviour_scores(gold.reset_index(drop=True), coded.reset_index(drop=True))
        rows.append({"coded": name, "main": scores.main, QUESTION_COLUMN: scores.question,
                     REFLECTION_COLUMN: scores.reflection, **{f"main F1 {k}": v for k, v in scores.main_per_class.items()}})
        confusions[name] = scores.confusion
    return pd.DataFrame(rows).set_index("coded").round(3), confusions


def gold_behaviour_table(coder, gold: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """One row per (text version, context): the three macro-F1 and main behaviour per class; confusions by row name."""
    return gold_table(gold, gold_codes(coder, gold["text"].tolist()))
