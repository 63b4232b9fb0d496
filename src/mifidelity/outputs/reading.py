"""A written session read back from its folder (session.json and utterances.csv), to write its report again.

The inbox moves each original to ``INBOX/archive/`` once its session is written; the report's
audio player must then play it from there. Rather than edit the written HTML, the inbox has the
report written again through the same renderer, from the session's own files and the recording's
new place (:func:`rewrite_report`). Everything the report shows comes back as it was written:
the coded-utterance table with its types (numbers, booleans, empty cells as ``None`` where the
pipeline leaves them so), the metrics, estimates, models, roles and notes. What the files do not
hold does not come back: the diariser's own turns (``speaker_turns``), the roles' notes and the
fidelity estimate's caveat (already among the session's notes). The estimated indices come back
from their 0-100 values, which is all the report shows of them.

Nothing here logs transcript text.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import BACKCHANNEL_COLUMN, PROBABILITY_COLUMNS, applies_to_coach
from mifidelity.fidelity import GLOBAL_NAMES, FidelityEstimate, GlobalScores
from mifidelity.files import write_private_atomic
from mifidelity.metrics import SessionMetrics
from mifidelity.outputs.writers import WRITERS
from mifidelity.session import CodedSession
from mifidelity.types import RoleAssignment, StageInfo

NUMBER_COLUMNS = ("start", "end")
BOOLEAN_CODE_COLUMNS = ("giving_information",)  # True / False on coach rows, empty on client rows


def read_utterances(path: str | Path) -> pd.DataFrame:
    """utterances.csv as the coded-utterance table it was written from (:mod:`mifidelity.session`)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    frame = pd.DataFrame(index=raw.index)
    for column in raw.columns:
        cells = raw[column]
        if column in NUMBER_COLUMNS or column in PROBABILITY_COLUMNS or column.endswith("_confidence"):
            frame[column] = cells.where(cells != "", np.nan).astype("float64")
        elif column == BACKCHANNEL_COLUMN:
            frame[column] = cells == "True"
        elif column in BOOLEAN_CODE_COLUMNS:
            frame[column] = cells.map({"True": True, "False": False, "": None}).astype(object)
        elif applies_to_coach(column) is not None:
            frame[column] = cells.where(cells != "", None).astype(object)
        else:
            frame[column] = cells.astype(object)
    is_coach = frame["role"] == "coach"
    for column in frame.columns:  # as session.code_utterances leaves them: codes of the other role are None
        coach_column = applies_to_coach(column)
        if coach_column is not None:
            frame[column] = frame[column].astype(object).where(is_coach if coach_column else ~is_coach, None)
    return frame


def _fidelity(summary: dict) -> FidelityEstimate | None:
    if summary.get("globals") is None or summary.get("mi_quality_probability") is None:
        return None
    indices = summary["globals"]
    return FidelityEstimate(
        globals=GlobalScores(**{name: indices[name] / 100.0 for name in GLOBAL_NAMES}),
        mi_quality_probability=summary["mi_quality_probability"],
        model=summary["models"]["fidelity"]["model"],
        evidence=summary.get("mi_quality_evidence"),
    )


def _roles(roles: dict | None) -> RoleAssignment | None:
    if roles is None:
        return None
    return RoleAssignment(coach_speaker=roles["coach_speaker"], roles=dict(roles["speakers"]),
                          confidence=roles["confidence"], method=roles["method"],
                          evidence=roles.get("evidence") or {})


def read_session(folder: str | Path) -> CodedSession:
    """The session written to ``folder`` (its session.json and utterances.csv), as a :class:`CodedSession`.

    Raises ``OSError`` when a file is missing (formats that leave them out) and ``KeyError`` /
    ``ValueError`` when session.json is not one this version writes.
    """
    folder = Path(folder)
    summary = json.loads((folder / WRITERS["json"].filename).read_text(encoding="utf-8"))
    duration = summary["duration_seconds"]
    return CodedSession(
        session_id=summary["session_id"],
        source=summary["source"],
        # session.json rounds the duration to ms; the report's own (unrounded) length is kept beside it
        duration_seconds=None if duration is None else summary.get("report_duration_seconds", duration),
        utterances=read_utterances(folder / WRITERS["csv"].filename),
        metrics=SessionMetrics(**summary["metrics"]),
        models={stage: StageInfo(**info) for stage, info in summary["models"].items()},
        timings=dict(summary["timings"]),
        roles=_roles(summary.get("roles")),
        notes=list(summary.get("notes") or []),
        coach=summary.get("coach"),
        # Only a date the pipeline gave is kept: otherwise the report decides again, as it did the first time.
        recorded_at=datetime.fromisoformat(summary["recorded_at"])
        if summary.get("recorded_at_basis") == "recorded" else None,
        expected_metrics=summary.get("expected_metrics"),
        fidelity=_fidelity(summary),
    )


def rewrite_report(folder: str | Path, recording: str | Path) -> bool:
    """Write ``folder``'s report.html again from the session's files, its audio player playing ``recording``.

    Returns False, writing nothing, when the folder has no report (``html`` was not among the
    formats). The file is replaced atomically and stays owner-only.
    """
    from mifidelity.report import render_session_report  # the report imports plotting: load it only when asked

    report = Path(folder) / WRITERS["html"].filename
    if not report.is_file():
        return False
    session = read_session(folder)
    write_private_atomic(report, render_session_report(session, report_dir=Path(folder), recording=Path(recording)))
    return True
