"""What the Prefect UI shows of a session: the content of its artifacts, as plain formatting.

A markdown summary (verdict, the MITI 4.2.1 summary with the estimated probability of good MI and
indices 0-100, scorecard, suggestions) and a table (one row per metric, estimate and count). They hold
numbers and fixed sentences only, never transcript text: the Prefect database is not where counselling
transcripts should end up. The flows hand them to Prefect (``mifidelity_flows.artifacts``); nothing
here imports Prefect.
"""

from __future__ import annotations

import re

from mifidelity.coding.base import ADHERENCE_LABELS
from mifidelity.fidelity import GLOBAL_NAMES
from mifidelity.report.fidelity_summary import MitiSummary, quality_band
from mifidelity.report.formatting import format_value
from mifidelity.report.intervals import report_intervals
from mifidelity.report.scorecard import scorecard
from mifidelity.report.session_report import build_session_report
from mifidelity.session import CodedSession

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~])")


def _md(text: object) -> str:
    """Escape a string for Prefect's markdown (which also renders some HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def artifact_key(session_id: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = re.sub(r"[^a-z0-9]+", "-", session_id.lower()).strip("-")[:80] or "session"
    return f"mi-{slug}"


def session_markdown(session: CodedSession) -> str:
    """The summary artifact: verdict, MITI 4.2.1 summary, scorecard and suggestions (no transcript text)."""
    report = build_session_report(session)
    lines = [
        f"# MI fidelity: {_md(session.session_id)}",
        "",
        f"**Coach:** {_md(session.coach or 'not given')} · **Date:** {report.date_text} · "
        f"**Duration:** {report.duration_text} · **Utterances:** {len(report.utterances)}",
        "",
        f"> {_md(report.verdict)}",
        "",
        "## MITI 4.2.1 summary",
        "",
        *_summary_lines(report.miti),
        "",
        "| Measure | Value | 95% interval | Rating |",
        "| --- | --- | --- | --- |",
    ]
    for card in report.cards:
        interval = "–" if card.low is None else \
            f"{format_value(card.metric, card.low)} to {format_value(card.metric, card.high)}"
        lines.append(f"| {_md(card.label)} | {card.shown} | {interval} | {card.rating} |")
    lines += ["", "## Try next time", ""]
    lines += [f"{i}. **{_md(s.title)}**: {_md(s.text)}" for i, s in enumerate(report.suggestions, 1)]
    lines += ["", f"Missed opportunities: {len(report.missed)}. Persuading or confronting moments: "
                  f"{len(report.non_adherent_moments) if report.miti.adherence.coded else 'not coded'}. "
                  "The full report with the transcript is "
                  f"OUT/{_md(session.session_id)}/report.html on the machine that ran the flow."]
    return "\n".join(lines) + "\n"


def _summary_lines(miti: MitiSummary) -> list[str]:
    """The MITI 4.2.1 summary as a markdown table (numbers and fixed words only)."""
    lines = ["| Summary | Value | Rating |", "| --- | --- | --- |"]
    if miti.estimated:
        lines.append(f"| Probability of good MI (estimated) | {miti.probability_shown} | {miti.band} |")
    for summary in miti.summaries:
        value = f"{summary.shown} of 100" if miti.estimated else "not estimated"
        parts = ", ".join(f"{part.label.lower()} {part.shown}" for part in summary.parts)
        lines.append(f"| {summary.label} (estimated) | {value}" + (f" ({parts})" if miti.estimated else "")
                     + f" | {'index, no MITI band' if miti.estimated else '–'} |")
    for ratio in miti.ratios:
        lines.append(f"| {_md(ratio.label)} | {ratio.shown} | {ratio.rating} |")
    adherence = miti.adherence
    for count, label in ((adherence.adherent, "MI-adherent"), (adherence.non_adherent, "MI-non-adherent")):
        lines.append(f"| {_md(label)} | {count if adherence.coded else 'not coded'} | count |")
    note = ("The probability of good MI and the indices are estimates from a model trained on expert-rated sessions "
            "(AnnoMI), not an expert's rating. An index (0-100) says how much one aspect resembles sessions experts "
            "rated good MI; it is not MITI's 1-5 global score and has no MITI band. See docs/model-card-fidelity.md."
            if miti.estimated else
            "The technical and relational indices and the probability of good MI were not estimated (no adherence codes).")
    lines += ["", _md(note)]
    return lines


def session_table(session: CodedSession) -> list[dict]:
    """The metrics artifact: one row per metric, estimate and count."""
    rows = []
    for card in scorecard(session.metrics, report_intervals(session.utterances)):
        rows.append({"metric": card.label, "value": card.value, "low": card.low, "high": card.high,
                     "rating": card.rating, "source": card.source})
    fidelity = session.fidelity
    if fidelity is not None:
        scores = fidelity.globals.as_dict()
        rows.append({"metric": "probability of good MI (estimated)", "value": fidelity.mi_quality_probability,
                     "low": None, "high": None, "rating": quality_band(fidelity.mi_quality_probability),
                     "source": fidelity.model})
        for name in ("technical", "relational", *GLOBAL_NAMES):
            rows.append({"metric": f"{name.replace('_', ' ')} index 0-100 (estimated)", "value": scores[name],
                         "low": None, "high": None, "rating": "index, no MITI band", "source": fidelity.model})
    counts = session.metrics.as_dict()
    for name in ("questions", "open_questions", "closed_questions", "reflections", "simple_reflections",
                 "complex_reflections", "giving_information", "change_talk", "sustain_talk", "neutral_talk",
                 "mi_adherent", "mi_non_adherent", *ADHERENCE_LABELS[1:]):
        if counts.get(name) is None:
            continue  # adherence counts of a coder that gives none
        rows.append({"metric": name.replace("_", " "), "value": counts[name], "low": None, "high": None,
                     "rating": "count", "source": ""})
    return rows
