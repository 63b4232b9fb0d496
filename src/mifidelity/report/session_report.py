"""Everything one session's report shows, gathered once: :class:`SessionReport`.

The HTML template (``templates/session.html.j2``) and the Prefect artifacts
(:mod:`mifidelity.report.artifacts`) both read it. It is plain data, each part a
small frozen dataclass made by its section's module: nothing here writes HTML, so
escaping stays the template's job (Jinja2 autoescape), and nothing here logs
transcript text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mifidelity.coding.base import ADHERENCE_COLUMN
from mifidelity.fidelity import session_verdict
from mifidelity.metrics import THRESHOLDS, SessionMetrics, assess
from mifidelity.report.codes import (
    CODE_FILTERS,
    TAG_LABELS,
    CodeFilter,
    TranscriptUtterance,
    utterance_codes,
    utterance_rows,
)
from mifidelity.report.fidelity_summary import (
    AdherenceMoment,
    MitiSummary,
    StrengthGroup,
    miti_summary,
    non_adherent_moments,
    strengths,
)
from mifidelity.report.formatting import clock, threshold_text
from mifidelity.report.highlights import (
    Feelings,
    MissedOpportunity,
    ReflectionPair,
    RulerItem,
    best_complex_reflections,
    change_ruler_items,
    feeling_items,
    missed_opportunities,
)
from mifidelity.report.intervals import BOOTSTRAP_ROUNDS, Interval, report_intervals
from mifidelity.report.scorecard import ScoreCard, scorecard
from mifidelity.report.session_facts import (
    coded_from_transcript,
    find_recording,
    recording_url,
    roles_text,
    session_date,
    session_duration,
)
from mifidelity.report.suggestions import Suggestion, suggestions
from mifidelity.report.timeline import Timeline, timeline
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

    ``utterances`` are the transcript's rows, in the order of the coded-utterance table;
    every other part refers to utterances by their index there.
    """

    session: CodedSession
    metrics: SessionMetrics
    verdict: str  # the headline sentence (fidelity.session_verdict)
    miti: MitiSummary  # the MITI 4.2.1 summary block (fidelity_summary.miti_summary)
    cards: tuple[ScoreCard, ...]  # one per headline metric (scorecard.scorecard)
    intervals: dict[str, Interval]  # 95% interval per ratio metric (intervals.report_intervals)
    bootstrap_rounds: int
    thresholds_text: str  # the scorecard footnote's MITI thresholds, from metrics.THRESHOLDS
    suggestions: tuple[Suggestion, ...]  # "Try next time"
    non_adherent_moments: tuple[AdherenceMoment, ...]  # persuade / confront moments
    strengths: tuple[StrengthGroup, ...]  # MI-adherent moments by kind (fidelity_summary.strengths)
    timeline: Timeline  # geometry of the who-spoke-when plot (timeline.timeline)
    best_reflections: tuple[ReflectionPair, ...]  # the coder's most confident complex reflections
    change_talk: tuple[int, ...]  # rows of client change talk
    missed: tuple[MissedOpportunity, ...]  # missed opportunities (highlights.missed_opportunities)
    change_ruler: tuple[RulerItem, ...]  # scaling questions (empty: the report shows none)
    feelings: Feelings  # the client's feeling words, per utterance, and the lexicon (highlights.feeling_items)
    utterances: tuple[TranscriptUtterance, ...]
    filters: tuple[CodeFilter, ...]  # the transcript's filter buttons
    tag_labels: dict[str, str]  # filter code -> the tag the transcript shows (codes.TAG_LABELS)
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
    missed_rows = {m.client for m in missed} | {m.coach for m in missed}
    utterances = tuple(TranscriptUtterance(
        start=row.get("start"), role=row["role"], text="" if row.get("text") is None else str(row["text"]),
        codes=tuple(utterance_codes(row) + (["missed"] if i in missed_rows else [])), clock=clock(row.get("start")),
    ) for i, row in enumerate(rows))
    counts = {code: sum(code in u.codes for u in utterances) for code, _, _ in CODE_FILTERS}
    always = ("question", "reflection", "ct-change") + (("adherent", "non-adherent") if ADHERENCE_COLUMN in frame else ())
    filters = tuple(CodeFilter(code, label, counts[code])
                    for code, label, _ in CODE_FILTERS if counts[code] or code in always)
    intervals = report_intervals(frame)
    date, basis = session_date(session)
    duration = session_duration(session)
    coder = session.models.get("coding")
    return SessionReport(
        session=session,
        metrics=session.metrics,
        verdict=session_verdict(assessment, session.fidelity),
        miti=miti_summary(session.metrics, session.fidelity),
        cards=tuple(scorecard(session.metrics, intervals, session.expected_metrics)),
        intervals=intervals,
        bootstrap_rounds=BOOTSTRAP_ROUNDS,
        thresholds_text="; ".join(f"{words} {threshold_text(t)}"
                                  for metric, words in FOOTNOTE_THRESHOLDS.items()
                                  for t in THRESHOLDS if t.metric == metric),
        suggestions=tuple(suggestions(session.metrics, rows, missed, moments=moments)),
        non_adherent_moments=tuple(moments),
        strengths=tuple(strengths(rows)),
        timeline=timeline(rows),
        best_reflections=tuple(best_complex_reflections(rows)),
        change_talk=tuple(i for i, u in enumerate(utterances) if "ct-change" in u.codes),
        missed=tuple(missed),
        change_ruler=tuple(change_ruler_items(session.change_ruler)),
        feelings=feeling_items(session.feeling_words, rows),
        utterances=utterances,
        filters=filters,
        tag_labels=TAG_LABELS,
        n_coach=sum(u.role == "coach" for u in utterances),
        n_client=sum(u.role != "coach" for u in utterances),
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
