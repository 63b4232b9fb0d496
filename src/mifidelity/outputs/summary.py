"""What session.json and transcript.txt say about a coded session."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from mifidelity.fidelity import session_verdict
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
        # how much evidence the probability rests on: coach volleys, log-odds and their sd, P before the shrink
        "mi_quality_evidence": None if session.fidelity is None else session.fidelity.evidence,
        "assessment": _records(assessment.drop(columns=["meaning"])),
        "verdict": session_verdict(assessment, session.fidelity),
        "models": {stage: asdict(info) for stage, info in session.models.items()},
        "timings": {stage: round(seconds, 3) for stage, seconds in session.timings.items()},
        "roles": None if session.roles is None else {
            "coach_speaker": session.roles.coach_speaker,
            "speakers": session.roles.roles,
            "confidence": session.roles.confidence,
            "method": session.roles.method,
            # voice and language verdicts, when the coach was looked for by voice (coach_voices)
            **({"evidence": session.roles.evidence} if session.roles.evidence else {}),
        },
        "notes": session.notes,
        # what MI trainers look for (coding.change_ruler, coding.feeling_words); empty lists and zero counts if none
        "change_ruler": session.change_ruler.as_dict(),
        "feeling_words": session.feeling_words.as_dict(),
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
