"""The MITI 4.2.1 parts of the session report: the summary block, persuade / confront moments, strengths.

Reads the adherence codes of the utterance rows and the session's estimates
(:mod:`mifidelity.fidelity`); the behaviour-code evidence is in
:mod:`mifidelity.report.highlights`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mifidelity.coding.base import ADHERENCE_COLUMN, MI_ADHERENT, MI_NON_ADHERENT
from mifidelity.fidelity import CONSTRUCTS, SUMMARY_INDICES, FidelityEstimate, probability_shown
from mifidelity.fidelity import quality_band as fidelity_quality_band
from mifidelity.metrics import THRESHOLDS, SessionMetrics, rate
from mifidelity.report.codes import ADHERENCE_FILTER, CODE_FILTERS, row_value
from mifidelity.report.formatting import format_value, rating_class, threshold_text
from mifidelity.report.highlights import previous_client


# --------------------------------------------------------------------------- adherence moments

ADHERENCE_WORDS = {
    "affirm": "Affirming",
    "seeking_collaboration": "Seeking collaboration",
    "emphasizing_autonomy": "Emphasizing autonomy",
    "persuade": "Persuading without permission",
    "persuade_with_permission": "Persuading with permission",
    "confront": "Confronting",
}
_SHORT = {"affirm": "affirm", "seeking_collaboration": "seek", "emphasizing_autonomy": "emphasize autonomy",
          "persuade": "persuade", "confront": "confront"}  # MITI 4.2.1's short names, for the summary tiles
_TRY_INSTEAD = {
    "persuade": "Advice, a warning or an argument for change without the client's permission. Ask first, "
                "offer it as one option, then ask what they make of it.",
    "confront": "Disagreeing, correcting or criticising draws out reasons not to change. Reflect the client's "
                "view instead and ask what would make a difference.",
}


@dataclass(frozen=True)
class AdherenceMoment:
    """One coach volley coded with an adherence code (rows ``coach``), with the client's words before it."""

    kind: str  # the adherence label (persuade, affirm, ...)
    label: str  # in words (ADHERENCE_WORDS)
    coach: tuple[int, ...]  # the volley's utterances with that code
    client: int | None
    why: str  # what to try instead (persuade, confront); "" for the others


@dataclass(frozen=True)
class StrengthGroup:
    """The MI-adherent moments of one kind: how many, and the ones the report shows."""

    kind: str
    label: str
    count: int
    moments: tuple[AdherenceMoment, ...]
    filter: str  # the transcript filter that shows them all
    filter_label: str


def adherence_moments(rows: list[dict], kinds: tuple[str, ...]) -> list[AdherenceMoment]:
    """Coach turns coded with one of ``kinds``, each with the client's words just before it.

    One entry per coach volley and kind, as MITI 4.2.1 counts them (a turn split into
    several utterances at pauses is one moment), in the order of the session.
    """
    found: dict[tuple[int, str], list[int]] = {}  # (volley, kind) -> coach rows
    volley = 0
    for i, row in enumerate(rows):
        if row.get("role") != "coach":
            volley += str(row_value(row, "backchannel")).lower() != "true"  # a back-channel takes no floor (metrics)
            continue
        kind = row_value(row, ADHERENCE_COLUMN)
        if kind in kinds:
            found.setdefault((volley, kind), []).append(i)
    moments = [AdherenceMoment(kind=kind, label=ADHERENCE_WORDS[kind], coach=tuple(coach),
                               client=previous_client(rows, coach[0]), why=_TRY_INSTEAD.get(kind, ""))
               for (_, kind), coach in found.items()]
    return sorted(moments, key=lambda m: m.coach[0])


def non_adherent_moments(rows: list[dict]) -> list[AdherenceMoment]:
    """Persuade and confront moments: the "try next time" evidence (MI-non-adherent, MITI 4.2.1)."""
    return adherence_moments(rows, MI_NON_ADHERENT)


def strengths(rows: list[dict], per_kind: int = 4) -> list[StrengthGroup]:
    """MI-adherent moments (affirm, seeking collaboration, emphasizing autonomy) grouped by kind.

    One group per kind found, with its first ``per_kind`` moments, most confident first within
    a kind when the coder gives ``adherence_confidence``.
    """
    found = adherence_moments(rows, MI_ADHERENT)
    groups = []
    for kind in MI_ADHERENT:
        mine = [m for m in found if m.kind == kind]
        if not mine:
            continue

        def confidence(moment: AdherenceMoment) -> float:
            values = [row_value(rows[i], f"{ADHERENCE_COLUMN}_confidence") for i in moment.coach]
            return max((float(v) for v in values if v is not None), default=0.0)

        chosen = sorted(sorted(mine, key=confidence, reverse=True)[:per_kind], key=lambda m: m.coach[0])
        code = ADHERENCE_FILTER[kind]
        groups.append(StrengthGroup(kind=kind, label=ADHERENCE_WORDS[kind], count=len(mine), moments=tuple(chosen),
                                    filter=code,
                                    filter_label=next(label for c, label, _ in CODE_FILTERS if c == code)))
    return groups


# --------------------------------------------------------------------------- MITI 4.2.1 summary

GLOBAL_WORDS = {
    "cultivating_change_talk": "Cultivating change talk",
    "softening_sustain_talk": "Softening sustain talk",
    "partnership": "Partnership",
    "empathy": "Empathy",
}
# The two summary indices (fidelity.SUMMARY_INDICES): label and what they are about, in plain words.
INDEX_WORDS = {
    "technical": ("Technical index", "Cultivating change talk and softening sustain talk: how the coach steers towards change."),
    "relational": ("Relational index", "Partnership and empathy: how the coach works with the client and understands them."),
}
# Under each index tile, instead of MITI's fair/good levels (which belong to its 1-5 expert ratings, not to these).
INDEX_SCALE_TEXT = "0-100: resemblance to sessions rated good MI · estimate, no MITI band"
_SUMMARY_RATIOS = ("pct_complex_reflections", "reflection_to_question")  # MITI 4.2.1's two count-based summaries
# What each estimate reads, in plain words (the features of fidelity.CONSTRUCTS).
FEATURE_WORDS = {
    "change_talk_share": "the share of change talk",
    "sustain_talk_share": "the share of sustain talk",
    "open_questions_per_volley": "open questions",
    "questions_per_volley": "questions",
    "reflections_per_volley": "reflections",
    "complex_reflections_per_volley": "complex reflections",
    "change_talk_reflected": "change talk reflected back",
    "sustain_talk_reflected": "sustain talk reflected rather than answered",
    "non_adherent_per_volley": "persuading and confronting",
    "adherent_per_volley": "affirming, seeking collaboration and emphasizing autonomy",
    "affirm_per_volley": "affirmations",
    "information_per_volley": "giving information",
    "coach_word_share": "the coach's share of the words",
    "log_words_per_coach_utterance": "the length of the coach's turns",
    "log_reflection_to_question": "reflections per question",
    "complex_share": "the share of complex reflections",
}


def quality_band(probability: float | None) -> str:
    """:func:`mifidelity.fidelity.quality_band`, also for a NaN read back from a table."""
    if probability is not None and isinstance(probability, float) and math.isnan(probability):
        return "not estimated"
    return fidelity_quality_band(probability)


def built_from(global_name: str) -> str:
    """What one global's estimate reads, e.g. 'reflections, complex reflections, ...'."""
    return ", ".join(FEATURE_WORDS.get(f, f.replace("_", " ")) for f in CONSTRUCTS.get(global_name, {}))


@dataclass(frozen=True)
class IndexPart:
    """One MITI global aspect inside a summary index, as an index 0-100 ("–" when not estimated)."""

    name: str
    label: str
    shown: str
    built_from: str  # what its estimate reads, in words


@dataclass(frozen=True)
class IndexSummary:
    """The technical or relational index (0-100) and the two aspects it is the mean of."""

    metric: str
    label: str
    value: int | None  # None: not estimated
    shown: str
    scale: str
    meaning: str
    parts: tuple[IndexPart, ...]


@dataclass(frozen=True)
class RatioSummary:
    """One of MITI 4.2.1's count-based summary scores (% complex reflections, R:Q) with its rating."""

    metric: str
    label: str
    value: float | None
    shown: str
    rating: str
    rating_cls: str
    thresholds: str  # MITI's fair and good levels, in words


@dataclass(frozen=True)
class AdherenceCount:
    """How many coach volleys carry one adherence code (MITI 4.2.1's short name)."""

    label: str
    count: int


@dataclass(frozen=True)
class AdherenceTotals:
    """MI-adherent and MI-non-adherent totals with their parts; counts are None when not coded."""

    coded: bool
    adherent: int | None
    non_adherent: int | None
    adherent_parts: tuple[AdherenceCount, ...]
    non_adherent_parts: tuple[AdherenceCount, ...]
    with_permission: int | None  # persuading with permission: in neither total


@dataclass(frozen=True)
class MitiSummary:
    """The report's top block (see :func:`miti_summary`)."""

    estimated: bool  # the indices and P(good MI) were estimated
    summaries: tuple[IndexSummary, ...]
    ratios: tuple[RatioSummary, ...]
    adherence: AdherenceTotals
    probability: float | None  # P(good MI)
    probability_shown: str
    band: str
    model: str | None  # the session model that estimated them


def miti_summary(metrics: SessionMetrics, fidelity: FidelityEstimate | None) -> MitiSummary:
    """The report's top block: MITI 4.2.1's counted summary scores, the estimated indices and adherence totals.

    ``fidelity`` is ``None`` when not estimated (the coder gave no adherence codes, or the session
    predates them). ``None`` values mean "not estimated" / "not coded".
    """
    scores = None if fidelity is None else fidelity.globals.as_dict()
    summaries = []
    for metric, parts in SUMMARY_INDICES.items():
        label, meaning = INDEX_WORDS[metric]
        value = None if scores is None else scores[metric]
        summaries.append(IndexSummary(
            metric=metric, label=label, value=value, shown="–" if value is None else f"{value:d}",
            scale=INDEX_SCALE_TEXT, meaning=meaning,
            parts=tuple(IndexPart(name=name, label=GLOBAL_WORDS[name],
                                  shown="–" if scores is None else f"{scores[name]:d}", built_from=built_from(name))
                        for name in parts),
        ))
    ratios = []
    for threshold in (t for name in _SUMMARY_RATIOS for t in THRESHOLDS if t.metric == name):
        value = getattr(metrics, threshold.metric)
        rating = rate(value, threshold)
        ratios.append(RatioSummary(metric=threshold.metric, label=threshold.label, value=value,
                                   shown=format_value(threshold.metric, value), rating=rating,
                                   rating_cls=rating_class(rating), thresholds=threshold_text(threshold)))
    coded = metrics.mi_adherent is not None
    adherence = AdherenceTotals(
        coded=coded,
        adherent=metrics.mi_adherent,
        non_adherent=metrics.mi_non_adherent,
        adherent_parts=tuple(AdherenceCount(_SHORT[k], getattr(metrics, k)) for k in MI_ADHERENT) if coded else (),
        non_adherent_parts=tuple(AdherenceCount(_SHORT[k], getattr(metrics, k)) for k in MI_NON_ADHERENT)
        if coded else (),
        with_permission=metrics.persuade_with_permission,
    )
    probability = None if fidelity is None else fidelity.mi_quality_probability
    return MitiSummary(
        estimated=fidelity is not None,
        summaries=tuple(summaries),
        ratios=tuple(ratios),
        adherence=adherence,
        probability=probability,
        probability_shown=probability_shown(probability),
        band=quality_band(probability),
        model=None if fidelity is None else fidelity.model,
    )
