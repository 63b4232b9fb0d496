"""Writing a session's files: session.json, utterances.csv, transcript.txt, report.html.

Files are written into a hidden temporary folder beside the destination and
renamed into place at the end, so a crash never leaves a half-written session
that looks complete. Folders are owner-only (0700) and files 0600: these are
transcripts of counselling sessions.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from mifidelity.fidelity import session_verdict
from mifidelity.files import PRIVATE_DIR_MODE, private_temp_dir, write_private
from mifidelity.metrics import assess
from mifidelity.session import CodedSession

def _timestamp(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:  # NaN: the input had no times
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def session_summary(session: CodedSession) -> dict:
    """The content of session.json."""
    assessment = assess(session.metrics)
    return {
        "session_id": session.session_id,
        "source": session.source,
        "coach": session.coach,
        "duration_seconds": None if session.duration_seconds is None else round(session.duration_seconds, 3),
        "metrics": session.metrics.as_dict(),
        "expected_metrics": session.expected_metrics,
        "globals": None if session.fidelity is None else session.fidelity.globals.as_dict(),
        "mi_quality_probability": None if session.fidelity is None else session.fidelity.mi_quality_probability,
        "assessment": _records(assessment.drop(columns=["meaning"])),
        "verdict": session_verdict(assessment, session.fidelity),
        "models": {stage: asdict(info) for stage, info in session.models.items()},
        "timings": {stage: round(seconds, 3) for stage, seconds in session.timings.items()},
        "roles": None if session.roles is None else {
            "coach_speaker": session.roles.coach_speaker,
            "speakers": session.roles.roles,
            "confidence": session.roles.confidence,
            "method": session.roles.method,
        },
        "notes": session.notes,
        **_report_fields(session),
    }


def _records(frame) -> list[dict]:
    """DataFrame rows as JSON-safe dicts (NaN becomes null, so session.json is valid JSON)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _report_fields(session: CodedSession) -> dict:
    """What the report and the supervisor overview need beyond the metrics."""
    from mifidelity.report.intervals import bootstrap_intervals
    from mifidelity.report.session_facts import session_date, session_duration

    date, basis = session_date(session)
    return {
        "recorded_at": date.isoformat(timespec="seconds"),
        "recorded_at_basis": basis,
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "report_duration_seconds": session_duration(session),
        "utterance_count": int(len(session.utterances)),
        "intervals": bootstrap_intervals(session.utterances),
    }


def transcript_text(session: CodedSession) -> str:
    """A readable, speaker-labelled, timestamped transcript."""
    lines = []
    for row in session.utterances.itertuples(index=False):
        who = f"{row.role.upper()} ({row.speaker})" if row.speaker != row.role else row.role.upper()
        lines.append(f"[{_timestamp(row.start)} - {_timestamp(row.end)}] {who}: {row.text}")
    return "\n".join(lines) + "\n"


def write_session(session: CodedSession, out_dir: str | Path) -> Path:
    """Write one session's files into ``out_dir/<session_id>/`` atomically.

    Returns the session folder. An earlier output of the same session is
    replaced only once the new one is complete.
    """
    from mifidelity.report import render_session_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)  # not chmod: OUT may be the user's own folder
    final = out_dir / session.session_id
    staging = private_temp_dir(out_dir, prefix=f".{session.session_id}.", suffix=".partial")
    try:
        write_private(staging / "session.json", json.dumps(session_summary(session), indent=2, default=str) + "\n")
        write_private(staging / "utterances.csv", session.utterances.to_csv(index=False))
        write_private(staging / "transcript.txt", transcript_text(session))
        write_private(staging / "report.html", render_session_report(session, report_dir=final))
        if final.exists():
            retired = private_temp_dir(out_dir, prefix=f".{session.session_id}.", suffix=".old")
            os.rename(final, retired / "previous")
            os.rename(staging, final)
            shutil.rmtree(retired)  # our own previous output, never an original recording
        else:
            os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
