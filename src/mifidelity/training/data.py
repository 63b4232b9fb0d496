"""AnnoMI loading: one row per utterance with majority-vote MITI labels.

Only the training and evaluation scripts use this module; the coders never read
the corpus. The corpus stays outside the repository: pass its folder.

Label mapping (AnnoMI -> this project's codes)
----------------------------------------------
``main_behaviour``
    reflection / question / therapist_input -> ``input`` / other.
``question``
    ``none`` unless ``question_exists``; then ``question_subtype`` (open/closed).
``reflection``
    ``none`` unless ``reflection_exists``; then ``reflection_subtype`` (simple/complex).
``giving_information``
    ``therapist_input_exists`` and ``therapist_input_subtype == "information"``.
    Advice, negotiation and options are *not* giving information: MITI 4.2.1 codes
    advice as Persuade (with or without permission), and its "Giving Information"
    code is information only.
``client_talk``
    ``client_talk_type`` (change / sustain / neutral).

Seven transcripts have ten annotators; each field is then a majority vote (ties go
to the label listed first in :data:`mifidelity.coding.base.LABELS`, so the vote is
deterministic).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mifidelity.coding.base import (CLIENT_TALK_COLUMN, CODE_COLUMNS, GIVING_INFORMATION_COLUMN, LABELS,
                                    MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN)
from mifidelity.files import from_spreadsheet_safe

DEFAULT_DATA_DIR = "../shared/data/annomi"
DEFAULT_FORUM_DIR = "../shared/data/mi-forum"  # mi-forum: the adherence coder's and the behaviour coder's forum sentences
FULL_CSV = "AnnoMI-full.dev.csv"
TASKS = CODE_COLUMNS  # one task per code column (coding.base); coach codes are coding.base.COACH_CODE_COLUMNS
VERSIONS = ("clean", "asr")  # every text as written and as a recogniser gives it (features.strip_asr)


def _truthy(value) -> bool:
    return str(value).strip().lower() == "true"


def _annotator_labels(raw: pd.DataFrame) -> pd.DataFrame:
    """Map one annotator's AnnoMI fields to this project's codes (per row)."""
    therapist = raw["interlocutor"].str.lower().eq("therapist")
    main = raw["main_therapist_behaviour"].replace({"therapist_input": "input"})
    question = raw["question_subtype"].where(raw["question_exists"].map(_truthy), "none")
    reflection = raw["reflection_subtype"].where(raw["reflection_exists"].map(_truthy), "none")
    info = raw["therapist_input_exists"].map(_truthy) & raw["therapist_input_subtype"].eq("information")
    return pd.DataFrame({
        MAIN_BEHAVIOUR_COLUMN: main.where(therapist),
        QUESTION_COLUMN: question.where(therapist),
        REFLECTION_COLUMN: reflection.where(therapist),
        GIVING_INFORMATION_COLUMN: info.where(therapist),
        CLIENT_TALK_COLUMN: raw["client_talk_type"].where(~therapist),
    })


def majority_vote(values: pd.Series, task: str):
    """Majority label; ties go to the first label in LABELS[task]."""
    values = values.dropna()
    if values.empty:
        return None
    counts = values.value_counts()
    best = counts.max()
    for label in LABELS[task]:
        if counts.get(label, 0) == best:
            return label
    return counts.index[0]


def load_annomi(data_dir: str | Path = DEFAULT_DATA_DIR) -> pd.DataFrame:
    """Load AnnoMI as one row per utterance with majority-vote labels.

    Parameters
    ----------
    data_dir:
        Folder holding ``AnnoMI-full.dev.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``transcript_id``, ``utterance_id``, ``role`` (coach/client), ``text``,
        ``n_annotators``, ``mi_quality`` and one column per task in :data:`TASKS`
        (``None`` where the task does not apply to the role). Sorted by transcript and
        utterance order.
    """
    path = Path(data_dir) / FULL_CSV
    if not path.exists():
        raise FileNotFoundError(f"AnnoMI not found: {path} (pass --data with the corpus folder)")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["n/a", ""])
    raw["utterance_id"] = raw["utterance_id"].astype(int)
    labels = _annotator_labels(raw)
    labels[["transcript_id", "utterance_id", "annotator_id"]] = raw[["transcript_id", "utterance_id", "annotator_id"]]
    keys = ["transcript_id", "utterance_id"]
    voted = labels.groupby(keys, sort=True).agg(
        **{task: (task, lambda s, t=task: majority_vote(s, t)) for task in TASKS},
        n_annotators=("annotator_id", "nunique"),
    )
    first = raw.groupby(keys, sort=True).first()
    out = pd.DataFrame({
        "role": first["interlocutor"].str.lower().map({"therapist": "coach", "client": "client"}),
        "text": first["utterance_text"].fillna(""),
        "mi_quality": first["mi_quality"],
    }).join(voted).reset_index()
    out["transcript_id"] = out["transcript_id"].astype(int)
    out = out.sort_values(["transcript_id", "utterance_id"]).reset_index(drop=True)
    for task in TASKS:
        out[task] = out[task].astype(object).where(out[task].notna(), None)
    return out


def annotator_tables(data_dir: str | Path = DEFAULT_DATA_DIR) -> pd.DataFrame:
    """Per-annotator labels of the multiply-annotated transcripts (for agreement).

    Returns
    -------
    pandas.DataFrame
        One row per utterance and annotator, with ``transcript_id``, ``utterance_id``,
        ``annotator_id``, ``role`` and the task columns.
    """
    raw = pd.read_csv(Path(data_dir) / FULL_CSV, dtype=str, keep_default_na=False, na_values=["n/a", ""])
    raw["utterance_id"] = raw["utterance_id"].astype(int)
    labels = _annotator_labels(raw)
    labels[["transcript_id", "utterance_id", "annotator_id"]] = raw[["transcript_id", "utterance_id", "annotator_id"]]
    labels["transcript_id"] = labels["transcript_id"].astype(int)
    labels["role"] = raw["interlocutor"].str.lower().map({"therapist": "coach", "client": "client"})
    multi = labels.groupby("transcript_id")["annotator_id"].transform("nunique") > 1
    return labels[multi].reset_index(drop=True)


def load_corrections(paths) -> pd.DataFrame:
    """Accepted portal corrections (``mifidelity corrections export``) shaped like :func:`load_annomi`'s rows.

    Extra training data for the coder: each exported session becomes a transcript with a negative
    id (AnnoMI's are not negative, so the two never share a group or a fold), and only the corrected
    codes carry a label; the others are ``None``, which the training loss skips. An unknown label
    raises ValueError naming the file.
    """
    frames = []
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False).map(from_spreadsheet_safe)
        missing = {"transcript_id", "utterance_id", "role", "text", *TASKS} - set(raw.columns)
        if missing:
            raise ValueError(f"{path}: not a corrections export (missing {', '.join(sorted(missing))})")
        for task in TASKS:
            values = raw[task].where(raw[task] != "", None)
            if task == GIVING_INFORMATION_COLUMN:
                values = values.map({"True": True, "False": False, None: None})
            unknown = set(values.dropna()) - set(LABELS[task])
            if unknown:
                raise ValueError(f"{path}: unknown {task} label(s) {sorted(map(str, unknown))}")
            raw[task] = values.astype(object).where(values.notna(), None)
        frames.append(raw)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["transcript_id", "utterance_id", "role", "text", *TASKS])
    ids = {session: -(i + 1) for i, session in enumerate(dict.fromkeys(out["transcript_id"]))}
    out["session_id"] = out["transcript_id"]
    out["transcript_id"] = out["transcript_id"].map(ids).astype(int)
    out["utterance_id"] = out["utterance_id"].astype(int)
    out["n_annotators"], out["mi_quality"] = 1, None
    columns = ["transcript_id", "utterance_id", "role", "text", "mi_quality", *TASKS, "n_annotators", "session_id"]
    return out[columns].sort_values(["session_id", "utterance_id"], kind="stable").reset_index(drop=True)
