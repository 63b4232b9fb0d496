"""Rated sessions from every collection, as the session model sees them: coded by the pipeline's coders.

Two collections carry an expert's high / low MI-quality label per session:

- **AnnoMI** (``../shared/data/annomi``, public domain): 103 transcripts of MI demonstrations. Its
  behaviour codes come from the coder *out of fold* (``training.evaluate --save-probabilities``:
  each transcript coded by a model that never saw it), in two text versions: as written ("clean")
  and lower-cased without punctuation ("asr"). Its adherence codes come from the shipped adherence
  coder, or out of fold when ``--adherence-oof`` names a file of them.
- **HLQC** (``../shared/data/hlqc``, no licence stated): 105 counselling sessions of another
  collection, ASR-style text, coded by the shipped coders exactly as ``mifidelity code`` does (the
  coders never saw this collection).

:func:`rated_sessions` returns one :class:`RatedSession` per session and text version: its coded
table plus what cross-validation needs (collection, group, topic, label).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mifidelity.coding.base import ADHERENCE_COLUMN, ADHERENCE_LABELS, LABELS, MAIN_BEHAVIOUR_COLUMN
from mifidelity.coding.features import strip_asr
from mifidelity.coding.model import codes_from_probabilities, joint_adherence, joint_behaviour, probability_columns
from mifidelity.coding.plain_speech import adjust_adherence, adjust_behaviour, detect_all
from mifidelity.metrics import coach_volleys
from mifidelity.training.data import FULL_CSV, TASKS, VERSIONS, load_annomi


@dataclass
class RatedSession:
    """One session in one text version, coded by the pipeline's coders, with its expert label."""

    id: str            # unique per session and version, e.g. "annomi-12/asr", "hlqc-high_003/asr"
    session: str       # the session, same for its versions
    collection: str    # "annomi" | "hlqc"
    group: int         # sessions of one video share a group (and so a cross-validation fold)
    topic: str         # AnnoMI's topic; "unknown" where a collection has none
    version: str       # "clean" | "asr" (HLQC is ASR-style only)
    high: bool         # the collection's expert label
    coded: pd.DataFrame


def coder_probabilities(paths: str | Path | Sequence[str | Path], data: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Out-of-fold coder probabilities per text version, checked to be row-aligned with ``data``.

    Several files (trainings that differ only in their seed, on the same folds) are averaged, as the
    shipped coder averages its artifacts (:data:`mifidelity.coding.trained.DEFAULT_ARTIFACTS`).
    """
    runs = []
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        saved = np.load(path, allow_pickle=True)
        if not (np.array_equal(saved["transcript_id"].astype(int), data["transcript_id"].to_numpy())
                and np.array_equal(saved["utterance_id"].astype(int), data["utterance_id"].to_numpy())):
            raise ValueError(f"{path} is not row-aligned with the AnnoMI data in use")
        runs.append(saved)
    if not runs:
        raise ValueError("no out-of-fold coder probabilities given")
    return {version: {task: np.mean([run[f"model/{version}/{task}"] for run in runs], axis=0) for task in TASKS}
            for version in VERSIONS}


def coded_table(data: pd.DataFrame, probs: dict[str, np.ndarray] | None, adherence: np.ndarray | None,
                plain_speech: bool = True) -> pd.DataFrame:
    """The pipeline's coded-utterance table for ``data`` rows: from coder probabilities, or the experts' codes.

    From probabilities the table is made as :meth:`TrainedCoder.code` makes it: the plain-speech
    cues (:mod:`mifidelity.coding.plain_speech`) weigh in before the joint decision.
    """
    roles = data["role"].tolist()
    frame = data[["role", "text"]].reset_index(drop=True).copy()
    main_labels = LABELS[MAIN_BEHAVIOUR_COLUMN]
    cues = detect_all([str(r) for r in roles], [str(t) for t in data["text"]]) if plain_speech and probs is not None \
        else [frozenset()] * len(roles)
    if probs is not None:
        probs = adjust_behaviour(probs, cues, LABELS)
    if adherence is not None:
        adherence = adjust_adherence(adherence, cues)
    if probs is None:
        for task in TASKS:
            frame[task] = data[task].to_numpy()
        main = np.array([[float(value == label) for label in main_labels] for value in data[MAIN_BEHAVIOUR_COLUMN]])
    else:
        main = probs[MAIN_BEHAVIOUR_COLUMN]
        joint = joint_behaviour(probs, LABELS)
        frame = pd.concat([frame, codes_from_probabilities(roles, joint, LABELS),
                           probability_columns(roles, joint, LABELS)], axis=1)
    if adherence is not None:
        joint = joint_adherence(adherence, main, main_labels)
        labels = np.array(ADHERENCE_LABELS, dtype=object)[joint.argmax(1)]
        frame[ADHERENCE_COLUMN] = np.where(frame["role"] == "coach", labels, None)
    return frame


def shipped_adherence(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per version, the shipped adherence coder's probabilities for every row of ``data`` (client rows: none)."""
    from mifidelity.coding.adherence import AdherenceCoder

    coder = AdherenceCoder().load()
    roles = data["role"].tolist()
    out = {}
    for version in VERSIONS:
        texts = [strip_asr(t) if version == "asr" else str(t) for t in data["text"]]
        out[version] = coder.predict_proba(roles, texts)
    return out


def annomi_topics(annomi_dir: str | Path) -> dict[int, str]:
    raw = pd.read_csv(Path(annomi_dir) / FULL_CSV, usecols=["transcript_id", "topic"], dtype=str)
    return {int(t): topic.strip() for t, topic in raw.drop_duplicates("transcript_id").itertuples(index=False)}


def annomi_sessions(annomi_dir: str | Path, coder_oof: str | Path | Sequence[str | Path],
                    adherence: dict[str, np.ndarray] | None = None) -> list[RatedSession]:
    """AnnoMI transcripts coded out of fold, in both text versions."""
    data = load_annomi(annomi_dir)
    probs = coder_probabilities(coder_oof, data)
    adherence = adherence if adherence is not None else shipped_adherence(data)
    topics = annomi_topics(annomi_dir)
    out = []
    for version in VERSIONS:
        as_read = data.assign(text=[strip_asr(t) for t in data["text"]]) if version == "asr" else data
        coded = coded_table(as_read, probs[version], adherence[version])
        for transcript, index in data.groupby("transcript_id", sort=True).indices.items():
            out.append(RatedSession(
                id=f"annomi-{transcript}/{version}", session=f"annomi-{transcript}", collection="annomi",
                group=int(transcript), topic=topics.get(int(transcript), "unknown"), version=version,
                high=data["mi_quality"].iloc[index[0]] == "high", coded=coded.iloc[index].reset_index(drop=True)))
    return out


def hlqc_sessions(hlqc_dir: str | Path, cache_dir: str | Path | None = None) -> list[RatedSession]:
    """HLQC sessions coded by the shipped coders, as ``mifidelity code`` does."""
    from mifidelity.training.hlqc import DEFAULT_CACHE, coded_hlqc, load_hlqc

    meta = load_hlqc(hlqc_dir)
    coded = coded_hlqc(hlqc_dir, cache_dir if cache_dir is not None else DEFAULT_CACHE)
    return [RatedSession(id=f"{row.session}/asr", session=row.session, collection="hlqc", group=int(row.group),
                         topic="unknown", version="asr", high=bool(row.high), coded=coded[row.session])
            for row in meta.itertuples(index=False)]


def truncated(session: RatedSession, coach_volleys_kept: int) -> RatedSession | None:
    """The session's first ``coach_volleys_kept`` coach volleys (and the client talk between them).

    ``None`` when the session has no more volleys than that. Short sessions test whether the
    estimate knows how much evidence it has: the expert's label of the whole session stays.
    """
    volleys = coach_volleys(session.coded)
    if volleys.nunique() <= coach_volleys_kept:
        return None
    last_kept = volleys.drop_duplicates().iloc[coach_volleys_kept - 1]
    end = int(volleys.index[volleys == last_kept].max()) + 1
    cut = session.coded.iloc[:end].reset_index(drop=True)
    return RatedSession(id=f"{session.id}/first{coach_volleys_kept}", session=session.session,
                        collection=session.collection, group=session.group, topic=session.topic,
                        version=session.version, high=session.high, coded=cut)
