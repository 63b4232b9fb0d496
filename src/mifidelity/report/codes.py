"""Which codes an utterance carries, as the report's filters and tags name them.

A row here is one utterance of the coded-utterance table as a plain dict
(:func:`utterance_rows`), missing cells ``None``: the table's columns vary with the
coder. What the report's transcript shows of a row is a :class:`TranscriptUtterance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from mifidelity.coding.base import (ADHERENCE_COLUMN, CLIENT_TALK_COLUMN, GIVING_INFORMATION_COLUMN, MAIN_BEHAVIOUR_COLUMN,
                                     MI_ADHERENT, MI_NON_ADHERENT, QUESTION_COLUMN, REFLECTION_COLUMN, is_true)

# Adherence label -> filter code (MITI 4.2.1's adherence codes, coach rows).
ADHERENCE_FILTER = {
    "affirm": "a-affirm",
    "seeking_collaboration": "a-seek",
    "emphasizing_autonomy": "a-autonomy",
    "persuade": "a-persuade",
    "persuade_with_permission": "a-permission",
    "confront": "a-confront",
}

# (code, button label, tag label); the order of the filter buttons.
CODE_FILTERS = (
    ("question", "Questions", None),
    ("q-open", "Open questions", "open question"),
    ("q-closed", "Closed questions", "closed question"),
    ("reflection", "Reflections", None),
    ("r-complex", "Complex reflections", "complex reflection"),
    ("r-simple", "Simple reflections", "simple reflection"),
    ("gi", "Giving information", "giving information"),
    ("adherent", "MI-adherent", None),
    ("a-affirm", "Affirm", "affirm"),
    ("a-seek", "Seeking collaboration", "seeking collaboration"),
    ("a-autonomy", "Emphasizing autonomy", "emphasizing autonomy"),
    ("non-adherent", "MI-non-adherent", None),
    ("a-persuade", "Persuade", "persuade"),
    ("a-confront", "Confront", "confront"),
    ("a-permission", "Persuade with permission", "persuade with permission"),
    ("ct-change", "Change talk", "change talk"),
    ("ct-sustain", "Sustain talk", "sustain talk"),
    ("ct-neutral", "Neutral client talk", "neutral"),
    ("missed", "Missed opportunities", "missed opportunity"),
    ("other", "Other coach talk", "other"),
)
TAG_LABELS = {code: tag for code, _, tag in CODE_FILTERS if tag}


@dataclass(frozen=True)
class TranscriptUtterance:
    """One row of the report's transcript: who said what, when, and its filter codes."""

    start: float | None  # seconds (None without times)
    role: str
    text: str
    codes: tuple[str, ...]  # filter codes (CODE_FILTERS), "missed" included
    clock: str  # the start as mm:ss ("" without times)


@dataclass(frozen=True)
class CodeFilter:
    """A filter button of the transcript: its code, label and how many utterances carry the code."""

    code: str
    label: str
    count: int


def utterance_rows(utterances: pd.DataFrame) -> list[dict]:
    """The coded-utterance table as one dict per utterance, NaN as ``None``."""
    return utterances.astype(object).where(utterances.notna(), None).to_dict(orient="records")


def row_value(row: dict, key: str):
    """``row[key]``, or ``None`` when the row lacks it or it is NaN."""
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def utterance_codes(row: dict) -> list[str]:
    """Filter codes of one utterance (e.g. ``question q-open``); see CODE_FILTERS."""
    codes = []
    if row.get("role") == "coach":
        if row_value(row, QUESTION_COLUMN) in ("open", "closed"):
            codes += ["question", f"q-{row[QUESTION_COLUMN]}"]
        if row_value(row, REFLECTION_COLUMN) in ("simple", "complex"):
            codes += ["reflection", f"r-{row[REFLECTION_COLUMN]}"]
        if is_true(row.get(GIVING_INFORMATION_COLUMN)):
            codes.append("gi")
        adherence = row_value(row, ADHERENCE_COLUMN)
        if adherence in ADHERENCE_FILTER:
            group = "adherent" if adherence in MI_ADHERENT else "non-adherent" if adherence in MI_NON_ADHERENT else None
            codes += ([group] if group else []) + [ADHERENCE_FILTER[adherence]]
        if not codes:
            codes.append("other")
    else:
        talk = row_value(row, CLIENT_TALK_COLUMN)
        if talk in ("change", "sustain", "neutral"):
            codes.append(f"ct-{talk}")
    return codes


# How the report names each code field and value, for pages that show a single code (the portal's feedback
# form, its review page). Values are the strings utterances.csv holds; where the report has a tag for a value
# (CODE_FILTERS), that tag is its name, so the transcript, the form and the review page say the same thing.
CODE_FIELD_LABELS = {
    MAIN_BEHAVIOUR_COLUMN: "Kind of turn",
    QUESTION_COLUMN: "Question",
    REFLECTION_COLUMN: "Reflection",
    GIVING_INFORMATION_COLUMN: "Giving information",
    ADHERENCE_COLUMN: "MI-adherent / non-adherent",
    CLIENT_TALK_COLUMN: "Client talk",
}
_VALUE_TAGS = {
    ("question", "open"): "q-open", ("question", "closed"): "q-closed",
    ("reflection", "simple"): "r-simple", ("reflection", "complex"): "r-complex",
    ("giving_information", "True"): "gi",
    ("client_talk", "change"): "ct-change", ("client_talk", "sustain"): "ct-sustain",
    **{(ADHERENCE_COLUMN, label): code for label, code in ADHERENCE_FILTER.items()},
}
_VALUE_WORDS = {  # values the transcript shows no tag for
    ("main_behaviour", "question"): "a question",
    ("main_behaviour", "reflection"): "a reflection",
    ("main_behaviour", "input"): "giving information or advice",
    ("main_behaviour", "other"): "other coach talk",
    ("question", "none"): "not a question",
    ("reflection", "none"): "not a reflection",
    ("giving_information", "False"): "not giving information",
    (ADHERENCE_COLUMN, "none"): "none of these",
    ("client_talk", "neutral"): "neutral client talk",
}


def code_field_label(field: str) -> str:
    """The name of a code field in the report's words (``adherence`` -> ``MI-adherent / non-adherent``)."""
    return CODE_FIELD_LABELS.get(field, field.replace("_", " "))


def code_value_label(field: str, value: str | None) -> str:
    """A code's value in the report's words (``question``, ``closed`` -> ``closed question``); '–' when missing."""
    if value is None or value == "":
        return "–"
    tag = _VALUE_TAGS.get((field, str(value)))
    return TAG_LABELS[tag] if tag else _VALUE_WORDS.get((field, str(value)), str(value).replace("_", " "))
