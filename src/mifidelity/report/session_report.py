"""Everything one session's report shows, gathered once: :class:`SessionReport`.

The HTML template (``templates/session.html.j2``) and the Prefect artifacts
(:mod:`mifidelity.report.artifacts`) both read it. It is plain data: nothing
here writes HTML, so escaping stays the template's job (Jinja2 autoescape), and
nothing here logs transcript text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mifidelity.coding.base import ADHERENCE_COLUMN
from mifidelity.fidelity import session_verdict
from mifidelity.metrics import THRESHOLDS, SessionMetrics, assess
from mifidelity.report.codes import CODE_FILTERS, TAG_LABELS, utterance_codes, utterance_rows
from mifidelity.report.fidelity_summary import miti_summary, non_adherent_moments, strengths
from mifidelity.report.formatting import clock, threshold_text
from mifidelity.report.highlights import (
    best_complex_reflections,
    change_ruler_items,
    feeling_items,
    missed_opportunities,
)
from mifidelity.report.intervals import BOOTSTRAP_ROUNDS, bootstrap_intervals
from mifidelity.report.scorecard import scorecard
from mifidelity.report.session_facts import (
    coded_from_transcript,
    find_recording,
    recording_url,
    roles_text,
    session_date,
    session_duration,
)
from mifidelity.report.suggestions import suggestions
from mifidelity.report.timeline import timeline
from mifidelity.session import CodedSession

# How the date line explains where the session's date comes from (see session_facts.session_date).
DATE_BASIS_WORDS = {"recorded": "date of the recording",
                    "recording file date": "modification time of the recording file",
                    "coded": "time the transcript was coded"}
# The MITI 4.2.1 thresholds the scorecard's footnote spells out, in its words.
FOOTNOTE_THRESHOLDS = {"reflection_to_question": "reflections per question",
                       "pct_complex_reflections": "complex reflections"}


@dataclass(frozen=True)
class SessionReport:
    """What the session report shows.

    Utterance rows are dicts of the coded-utterance table's columns plus ``codes``
    (filter codes, :mod:`mifidelity.report.codes`) and ``clock``; other entries refer
    to utterances by their row index.
    """

    session: CodedSession
    metrics: SessionMetrics
    verdict: str  # the headline sentence (fidelity.session_verdict)
    miti: dict  # the MITI 4.2.1 summary block (fidelity_summary.miti_summary)
    cards: list[dict]  # one per headline metric (scorecard.scorecard)
    intervals: dict[str, dict]  # 95% bootstrap interval per ratio metric (intervals.bootstrap_intervals)
    bootstrap_rounds: int
    thresholds_text: str  # the scorecard footnote's MITI thresholds, from metrics.THRESHOLDS
    suggestions: list[dict]  # "Try next time": title and text
    non_adherent_moments: list[dict]  # persuade / confront moments (fidelity_summary.non_adherent_moments)
    strengths: list[dict]  # MI-adherent moments by kind (fidelity_summary.strengths)
    timeline: dict  # geometry of the who-spoke-when plot (timeline.timeline)
    best_reflections: list[dict]  # the coder's most confident complex reflections
    change_talk: list[int]  # rows of client change talk
    missed: list[dict]  # missed opportunities (highlights.missed_opportunities)
    change_ruler: list[dict]  # scaling questions (highlights.change_ruler_items; empty: the report shows none)
    feelings: dict  # the client's feeling words, per utterance, and the lexicon (highlights.feeling_items)
    utterances: list[dict]
    filters: list[dict]  # the transcript's filter buttons: code, label, count
    tag_labels: dict[str, str]
    n_coach: int
    n_client: int
    roles_text: str | None  # who is the coach, what decided and how sure (session_facts.roles_text)
    date: datetime
    date_text: str
    date_basis: str  # how the date is known, in words
    duration: float | None  # seconds
    duration_text: str
    audio_url: str | None  # the original recording for the audio player, None when unreachable
    from_transcript: bool  # coded from a transcript (mifidelity code): there never was a recording
    coder_text: str
    generated: str  # when this report was made, "YYYY-MM-DD HH:MM"


def build_session_report(session: CodedSession, report_dir: str | Path | None = None,
                         recording: str | Path | None = None) -> SessionReport:
    """Gather what the report of ``session`` shows.

    ``report_dir`` is the folder the report will live in; the audio player's URL is
    relative to it when given, else an absolute ``file:`` URL. ``recording`` is where
    the original recording is when it has moved from ``session.source`` (the inbox
    archives it); by default :func:`~mifidelity.report.session_facts.find_recording` finds it.
    """
    assessment = assess(session.metrics)
    frame = session.utterances
    rows = utterance_rows(frame)
    missed = missed_opportunities(rows)
    moments = non_adherent_moments(rows)
    missed_rows = {m["client"] for m in missed} | {m["coach"] for m in missed}
    for i, row in enumerate(rows):
        row["text"] = "" if row.get("text") is None else str(row["text"])
        row["codes"] = utterance_codes(row) + (["missed"] if i in missed_rows else [])
        row["clock"] = clock(row.get("start"))
    counts = {code: sum(code in row["codes"] for row in rows) for code, _, _ in CODE_FILTERS}
    always = ("question", "reflection", "ct-change") + (("adherent", "non-adherent") if ADHERENCE_COLUMN in frame else ())
    filters = [{"code": code, "label": label, "count": counts[code]}
               for code, label, _ in CODE_FILTERS if counts[code] or code in always]
    intervals = bootstrap_intervals(frame)
    date, basis = session_date(session)
    duration = session_duration(session)
    coder = session.models.get("coding")
    fidelity = getattr(session, "fidelity", None)  # sessions built before the estimates have none
    return SessionReport(
        session=session,
        metrics=session.metrics,
        verdict=session_verdict(assessment, fidelity),
        miti=miti_summary(session.metrics, fidelity),
        cards=scorecard(session.metrics, intervals, session.expected_metrics),
        intervals=intervals,
        bootstrap_rounds=BOOTSTRAP_ROUNDS,
        thresholds_text="; ".join(f"{words} {threshold_text(t)}"
                                  for metric, words in FOOTNOTE_THRESHOLDS.items()
                                  for t in THRESHOLDS if t.metric == metric),
        suggestions=suggestions(session.metrics, rows, missed, moments=moments),
        non_adherent_moments=moments,
        strengths=strengths(rows),
        timeline=timeline(rows),
        best_reflections=best_complex_reflections(rows),
        change_talk=[i for i, r in enumerate(rows) if "ct-change" in r["codes"]],
        missed=missed,
        change_ruler=change_ruler_items(session.change_ruler),
        feelings=feeling_items(session.feeling_words, rows),
        utterances=rows,
        filters=filters,
        tag_labels=TAG_LABELS,
        n_coach=sum(r["role"] == "coach" for r in rows),
        n_client=sum(r["role"] != "coach" for r in rows),
        roles_text=roles_text(session),
        from_transcript=coded_from_transcript(session.source),
        date=date,
        date_text=date.strftime("%Y-%m-%d %H:%M"),
        date_basis=DATE_BASIS_WORDS[basis],
        duration=duration,
        duration_text=clock(duration) if duration else "unknown",
        audio_url=recording_url(Path(recording) if recording is not None else find_recording(session.source),
                                Path(report_dir) if report_dir else None),
        coder_text=f"{coder.engine} coder, {coder.model}" if coder else "coder not recorded",
        generated=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M"),
    )
