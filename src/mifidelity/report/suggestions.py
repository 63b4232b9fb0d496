"""The report's "Try next time": concrete suggestions derived from the session's numbers.

The MITI 'good' levels they aim at come from the one threshold table,
:data:`mifidelity.metrics.THRESHOLDS`. Suggestions hold numbers and times only, never
transcript text (they also go to Prefect).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mifidelity.metrics import THRESHOLDS, SessionMetrics
from mifidelity.report.fidelity_summary import AdherenceMoment
from mifidelity.report.formatting import clock
from mifidelity.report.highlights import MissedOpportunity

# % change talk has no MITI threshold (see THRESHOLDS); below half, the client argued more against change than for it.
CHANGE_TALK_MAJORITY = 50.0

# MITI-non-adherent moments -> (priority base, priority per moment, title, what was done, what to try instead).
NON_ADHERENT_ADVICE = {
    "persuade": (0.95, 0.1, "Ask before advising",
                 "you advised, warned or argued for change without the client's permission (MITI 'persuade')",
                 "Ask first (\"Would it be all right if I shared what has worked for others?\"), offer it as one "
                 "option, and ask what they make of it: the same advice given that way counts as persuading with "
                 "permission, not against MI."),
    "confront": (1.1, 0.15, "Roll with it instead of arguing",
                 "you disagreed with, corrected or criticised the client (MITI 'confront')",
                 "Arguing tends to draw out more reasons not to change. Reflect their view instead (\"You're not "
                 "convinced this is a problem\") and ask what would have to change for it to become one."),
}


@dataclass(frozen=True)
class Suggestion:
    """One "Try next time": a short title and what to do, in words (numbers and times, no transcript text)."""

    title: str
    text: str


def _good(metric: str) -> float:
    """The MITI 'good' level of a metric, from the one threshold table (:data:`metrics.THRESHOLDS`)."""
    return next(t.good for t in THRESHOLDS if t.metric == metric)


def suggestions(metrics: SessionMetrics, rows: list[dict], missed: list[MissedOpportunity], count: int = 3,
                moments: list[AdherenceMoment] | None = None) -> list[Suggestion]:
    """Concrete things to try next time, most pressing first, derived from the numbers.

    ``moments`` are the session's persuade / confront moments
    (:func:`mifidelity.report.fidelity_summary.non_adherent_moments`);
    they add "Ask before advising" and "Roll with it instead of arguing", ranked among the others.
    Suggestions hold numbers and times only, never transcript text (they also go to Prefect).
    """
    candidates: list[tuple[float, str, str]] = []
    q, r = metrics.questions, metrics.reflections
    rq = metrics.reflection_to_question
    rq_good, cr_good, oq_good = _good("reflection_to_question"), _good("pct_complex_reflections"), _good("pct_open_questions")
    share_good = _good("coach_talk_share")
    if q and (rq is None or rq < rq_good):
        need = max(0, math.ceil(rq_good * q - r))
        candidates.append((
            1.0 + (rq_good - (rq or 0.0)) / 2.0, "Reflect before you ask again",
            f"You asked {q} questions and offered {r} reflections (ratio {rq if rq is not None else 0:.1f}). "
            f"Next time, after each answer, reflect what you heard before asking the next question: about {need} "
            f"more reflections would have reached the MITI 'good' level of {rq_good:g} per question."))
    if r and (metrics.pct_complex_reflections or 0) < cr_good:
        need = max(1, math.ceil(r * cr_good / 100.0 - metrics.complex_reflections))
        candidates.append((
            0.9 + (cr_good - (metrics.pct_complex_reflections or 0.0)) / 100.0, "Deepen your reflections",
            f"{metrics.complex_reflections} of {r} reflections were complex. Turn at least {need} simple reflections "
            "into complex ones by adding the feeling, meaning or next step the client implied "
            "(\"You're worried this could get worse\" rather than repeating their words)."))
    elif not r and q:
        candidates.append((1.5, "Start reflecting",
                           "No reflections were found. Try answering each client statement with one sentence that "
                           "says back what you understood, before asking anything else."))
    moments = moments or []
    for kind, (base, step, title, what, advice) in NON_ADHERENT_ADVICE.items():
        found = [m for m in moments if m.kind == kind]
        if found:
            at = clock(rows[found[0].coach[0]].get("start"))
            candidates.append((base + step * len(found), title,
                               f"{len(found)} time(s) {what}" + (f", first at {at}" if at else "") + ". " + advice))
    missed_change = [m for m in missed if m.kind == "change"]
    if missed_change:
        first = rows[missed_change[0].client]
        at = clock(first.get("start"))
        candidates.append((
            0.8 + 0.1 * len(missed_change), "Catch change talk",
            f"{len(missed_change)} time(s) the client spoke for change and the next coach turn was not a reflection"
            + (f" (first at {at})" if at else "") + ". When you hear a reason, desire or plan to change, "
            "reflect it back before moving on: it is the moment most worth amplifying."))
    missed_sustain = [m for m in missed if m.kind == "sustain"]
    if missed_sustain:
        candidates.append((
            0.85 + 0.1 * len(missed_sustain), "Roll with sustain talk",
            f"{len(missed_sustain)} time(s) sustain talk was answered with information or advice. Reflect it instead, "
            "for example with a double-sided reflection (\"Part of you enjoys it, and part of you is worried\")."))
    if q and (metrics.pct_open_questions or 0) < oq_good:
        candidates.append((
            0.6 + (oq_good - (metrics.pct_open_questions or 0.0)) / 100.0, "Ask open questions",
            f"{metrics.closed_questions} of {q} questions were closed. Start questions with \"What\", \"How\" or "
            "\"Tell me about\" so the client tells their story rather than answering yes or no."))
    share = metrics.coach_talk_share
    if share is not None and share > share_good:
        candidates.append((
            0.5 + (share - share_good) * 2, "Let the client talk more",
            f"You spoke {share:.0%} of the time. Keep questions and reflections short and leave a pause after them; "
            f"aim for the client to speak at least {1 - share_good:.0%} of the time."))
    if metrics.change_talk + metrics.sustain_talk and (metrics.pct_change_talk or 0) < CHANGE_TALK_MAJORITY:
        candidates.append((
            0.7, "Evoke change talk",
            f"Only {metrics.change_talk} of {metrics.change_talk + metrics.sustain_talk} statements about change were "
            "for it. Ask evocative questions about reasons, hopes and ability (\"What would be better if...?\")."))
    elif metrics.change_talk == 0:
        candidates.append((0.7, "Evoke change talk",
                           "No change talk was found. Ask about the client's own reasons for change and the "
                           "benefits they would expect (\"What would be better if...?\")."))
    if metrics.giving_information > max(2, r):
        candidates.append((0.55, "Ask before informing",
                           f"You gave information {metrics.giving_information} times. Ask permission first and ask "
                           "what the client makes of it afterwards (elicit-provide-elicit)."))
    fallbacks = [
        (0.2, "Keep the reflections coming",
         "Your reflection and question numbers look good. Keep reflecting more than you ask, "
         "and aim for one complex reflection after each piece of change talk."),
        (0.15, "Summarise the change talk",
         "Before closing, offer a summary that collects the client's own reasons for change, then ask "
         "\"What do you make of that?\" or \"What's next?\"."),
        (0.1, "Check the evidence",
         "Skim the transcript filtered by \"Missed opportunities\" and \"Change talk\" to see which moments "
         "to handle differently next time."),
    ]
    chosen, titles = [], set()
    for priority, title, text in sorted(candidates, key=lambda c: -c[0]) + fallbacks:
        if title in titles:
            continue
        titles.add(title)
        chosen.append(Suggestion(title, text))
        if len(chosen) == count:
            break
    return chosen
