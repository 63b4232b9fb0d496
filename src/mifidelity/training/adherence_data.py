"""The MI-adherence coder's training examples: sources and labels.

Data (see ``docs/model-card-adherence.md``): the mi-forum gold counsellor sentences and their
silver-labelled CounselChat sentences (CC BY-NC-SA 3.0), AnnoMI coach utterances (advice,
options, plain information/questions/reflections; public domain), and our own spoken
examples in ``training_data/spoken_adherence_train.csv``. Every example is used twice: as
written and as a speech recogniser without punctuation would give it (:func:`strip_asr`).
``training_data/spoken_adherence_test.csv`` is never trained on. Fine-tuning and evaluation:
:mod:`mifidelity.training.adherence`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import ADHERENCE_COLUMN, ADHERENCE_LABELS
from mifidelity.coding.features import strip_asr
from mifidelity.training.data import FULL_CSV, VERSIONS, load_annomi

TRAINING_DATA = Path(__file__).resolve().parent / "training_data"
SPOKEN_TRAIN = TRAINING_DATA / "spoken_adherence_train.csv"
SPOKEN_TEST = TRAINING_DATA / "spoken_adherence_test.csv"

# mi-forum label -> adherence. The forum's "Advise with Permission" is hedged advice ("maybe look
# into it with a professional", "you might feel better if you start cleaning up"): none of its 26
# gold sentences shows permission asked or given, or the choice left to the reader. MITI 4.2.1
# (and MISC 2.5's Advise with / without Permission) code such advice Persuade, so it is taught
# as persuade; Persuade with Permission is learnt from our spoken examples and AnnoMI's options.
FORUM_LABELS = {
    "Affirm": "affirm",
    "Emphasize Autonomy": "emphasizing_autonomy",
    "Advise with Permission": "persuade", "Advise without Permission": "persuade", "Direct": "persuade",
    "Warn": "persuade",
    "Confront": "confront",
}  # everything else (Give Information, questions, reflections, Support, Self-Disclose, Other) -> none
SILVER_COLUMNS = {"cosine": "Cosine label", "union": "Union (without disambiguities)",
                  "intersection": "Intersection", "ngram": "N-gram labels"}
# AnnoMI's therapist-input subtype -> adherence. Advice is Persuade (MITI's default when
# permission is not visible in the utterance); "options" offers a menu the client picks from,
# which MITI 4.2.1 codes as Persuade with Permission; "negotiation" mixes agenda-setting
# questions (Seek), plans and advice, so it is left out.
ANNOMI_INPUT_LABELS = {"advice": "persuade", "options": "persuade_with_permission", "information": "none"}
# AnnoMI does not code Affirm, Seek or Autonomy: its plain questions and reflections that look
# like one of them are left out rather than taught as "none".
_POSSIBLY_ADHERENT = re.compile(
    r"\b(up to you|your (choice|decision|call)|you decide|okay if|ok if|all right if|alright if|would you mind"
    r"|(can|may|could) i (share|tell|ask|suggest|give)|what do you think|your ideas|together|would you like"
    r"|well done|good job|great job|proud|impressive|courage|strength|commend|congratulat|i appreciate"
    r"|you've done|you did (well|great|a great)|that's great|good for you)\b"
)


# ----------------------------------------------------------------------------- examples


@dataclass
class ExampleSet:
    """Labelled examples of one source."""

    source: str
    texts: list[str]
    labels: np.ndarray  # indices into ADHERENCE_LABELS
    group: np.ndarray  # gold: row number; AnnoMI: transcript id; others: -1

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, keep: np.ndarray) -> "ExampleSet":
        return ExampleSet(self.source, [t for t, k in zip(self.texts, keep) if k], self.labels[keep], self.group[keep])


def _label_indices(labels) -> np.ndarray:
    return np.array([ADHERENCE_LABELS.index(label) for label in labels], dtype=int)


def forum_label(label: str) -> str:
    return FORUM_LABELS.get(str(label).strip(), "none")


def load_gold(forum_dir: str | Path) -> ExampleSet:
    frame = pd.read_csv(Path(forum_dir) / "mi-gold.dev.csv")
    texts = frame["text"].astype(str).tolist()
    return ExampleSet("gold", texts, _label_indices(frame["label"].map(forum_label)), np.arange(len(frame)))


def load_silver(forum_dir: str | Path, column: str = "cosine") -> ExampleSet:
    """CounselChat sentences with one silver label from ``column`` (list columns: single-label rows only)."""
    frame = pd.read_csv(Path(forum_dir) / "counselchat-augmented.csv", keep_default_na=False)
    values = frame[SILVER_COLUMNS[column]].astype(str).str.strip()
    if values.str.startswith("[").any():
        parsed = values.map(lambda v: ast.literal_eval(v) if v.startswith("[") else ([v] if v else []))
        values = parsed.map(lambda labels: labels[0] if len(labels) == 1 else "")
    keep = (values != "") & frame["author"].eq("listener")
    texts = frame.loc[keep, "text"].astype(str).str.replace(r"\s+", " ", regex=True).str.strip().tolist()
    labels = _label_indices(values[keep].map(forum_label))
    return ExampleSet("silver", texts, labels, np.full(len(texts), -1))


def load_spoken(path: str | Path, source: str = "spoken", permission_in_utterance: bool = False) -> ExampleSet:
    """Our spoken examples. ``permission_in_utterance`` leaves out the Persuade-with-Permission examples
    whose permission is only in the client's turn before ("Any tips?" - "You could try ..."): the coder
    reads the utterance alone, and taught from them it took any soft advice for Persuade with Permission."""
    frame = pd.read_csv(path, keep_default_na=False)
    if permission_in_utterance:
        frame = frame[~((frame["label"] == "persuade_with_permission") & (frame["previous_client"] != ""))]
    texts = frame["text"].astype(str).tolist()
    return ExampleSet(source, texts, _label_indices(frame["label"]), np.full(len(texts), -1))


def annomi_input_subtypes(annomi_dir: str | Path) -> pd.Series:
    """Majority therapist-input subtype per (transcript_id, utterance_id); ``""`` = no input."""
    raw = pd.read_csv(Path(annomi_dir) / FULL_CSV, dtype=str, keep_default_na=False)
    raw = raw[raw["interlocutor"].str.lower() == "therapist"]
    subtype = raw["therapist_input_subtype"].where(raw["therapist_input_exists"].str.lower() == "true", "")
    subtype = subtype.replace("n/a", "")
    keys = [raw["transcript_id"].astype(int), raw["utterance_id"].astype(int)]
    # ties: the first label in sorted order, so the vote is deterministic
    return subtype.groupby(keys).agg(lambda s: sorted(s.value_counts()[lambda c: c == c.max()].index)[0])


def annomi_frame(annomi_dir: str | Path) -> pd.DataFrame:
    """AnnoMI utterances (``load_annomi``) with ``adherence`` training labels on coach rows (None: unused)."""
    data = load_annomi(annomi_dir)
    subtypes = annomi_input_subtypes(annomi_dir)
    data["input_subtype"] = [subtypes.get((t, u), "") for t, u in zip(data["transcript_id"], data["utterance_id"])]
    label = np.empty(len(data), dtype=object)
    label[:] = None
    for i, row in enumerate(data.itertuples()):
        if row.role != "coach":
            continue
        if row.input_subtype in ANNOMI_INPUT_LABELS:
            label[i] = ANNOMI_INPUT_LABELS[row.input_subtype]
        elif row.input_subtype == "" and row.main_behaviour in ("question", "reflection") \
                and not _POSSIBLY_ADHERENT.search(strip_asr(row.text)):
            label[i] = "none"
    data[ADHERENCE_COLUMN] = label
    return data


def load_annomi_examples(data: pd.DataFrame) -> ExampleSet:
    keep = data[ADHERENCE_COLUMN].notna().to_numpy()
    return ExampleSet("annomi", data.loc[keep, "text"].tolist(), _label_indices(data.loc[keep, ADHERENCE_COLUMN]),
                      data.loc[keep, "transcript_id"].to_numpy())


# ----------------------------------------------------------------------------- sources


@dataclass
class Sources:
    gold: ExampleSet
    silver: ExampleSet | None
    annomi: ExampleSet
    annomi_data: pd.DataFrame
    spoken: ExampleSet
    spoken_test: ExampleSet


def load_sources(forum_dir: str | Path, annomi_dir: str | Path, silver: str | None = "cosine") -> Sources:
    data = annomi_frame(annomi_dir)
    return Sources(
        gold=load_gold(forum_dir), silver=load_silver(forum_dir, silver) if silver else None,
        annomi=load_annomi_examples(data), annomi_data=data, spoken=load_spoken(SPOKEN_TRAIN, permission_in_utterance=True),
        spoken_test=load_spoken(SPOKEN_TEST, "spoken_test"),
    )


def all_training_sets(sources: Sources) -> list[ExampleSet]:
    return [s for s in (sources.gold, sources.silver, sources.annomi, sources.spoken) if s is not None]
