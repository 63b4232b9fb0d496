"""Which codes an utterance carries, as the report's filters and tags name them.

A row here is one utterance of the coded-utterance table as a plain dict
(:func:`utterance_rows`), missing cells ``None``.
"""

from __future__ import annotations

import math

import pandas as pd

from mifidelity.coding.base import ADHERENCE_COLUMN, MI_ADHERENT, MI_NON_ADHERENT

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


def utterance_rows(utterances: pd.DataFrame) -> list[dict]:
    """The coded-utterance table as one dict per utterance, NaN as ``None``."""
    return utterances.astype(object).where(utterances.notna(), None).to_dict(orient="records")


def is_true(value) -> bool:
    """A boolean cell, also as read back from a CSV (``"True"``)."""
    return value is True or str(value).lower() == "true"


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
        if row_value(row, "question") in ("open", "closed"):
            codes += ["question", f"q-{row['question']}"]
        if row_value(row, "reflection") in ("simple", "complex"):
            codes += ["reflection", f"r-{row['reflection']}"]
        if is_true(row.get("giving_information")):
            codes.append("gi")
        adherence = row_value(row, ADHERENCE_COLUMN)
        if adherence in ADHERENCE_FILTER:
            group = "adherent" if adherence in MI_ADHERENT else "non-adherent" if adherence in MI_NON_ADHERENT else None
            codes += ([group] if group else []) + [ADHERENCE_FILTER[adherence]]
        if not codes:
            codes.append("other")
    else:
        talk = row_value(row, "client_talk")
        if talk in ("change", "sustain", "neutral"):
            codes.append(f"ct-{talk}")
    return codes
