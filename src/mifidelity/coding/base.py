"""The coder interface: MITI 4.2.1 behaviour codes for a sequence of utterances.

A coder receives a whole session (roles and texts in order) because context
matters: a reflection answers what the client just said; change talk often
answers the coach's question.

Output columns (one row per input utterance, same order):

coach rows
    ``main_behaviour``: question | reflection | input | other
    ``question``: none | open | closed
    ``reflection``: none | simple | complex
    ``giving_information``: True | False
    ``adherence``: none | affirm | seeking_collaboration | emphasizing_autonomy | persuade |
    persuade_with_permission | confront (MITI 4.2.1's MI-adherent and non-adherent codes; optional:
    coders that give it add the column, see :mod:`mifidelity.coding.adherence`)
client rows
    ``client_talk``: change | sustain | neutral

Cells that do not apply to a row's role are ``None``. A coder may add a
``<column>_confidence`` column (probability of the chosen label) per code, and
the :data:`PROBABILITY_COLUMNS` (the probability of each label that a session
metric counts), from which :func:`mifidelity.metrics.expected_metrics` sums
expected counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import pandas as pd

from mifidelity.types import StageInfo

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"  # the coders' shipped weights (package data)


def seed_artifact_path(stem: str, seed: int, first_seed: int) -> Path:
    """A coder's bundled artifact trained with ``seed``: ``<stem>.npz`` for its first shipped seed, else
    ``<stem>-seed<seed>.npz`` (where ``train --seed SEED`` writes by default)."""
    return ARTIFACT_DIR / (f"{stem}.npz" if seed == first_seed else f"{stem}-seed{seed}.npz")

# The code columns, one name each: every table of codes (a coder's output, utterances.csv, the training data)
# and every task of the trained coder is keyed by these, in this order.
MAIN_BEHAVIOUR_COLUMN = "main_behaviour"
QUESTION_COLUMN = "question"
REFLECTION_COLUMN = "reflection"
GIVING_INFORMATION_COLUMN = "giving_information"
CLIENT_TALK_COLUMN = "client_talk"
COACH_CODE_COLUMNS = (MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN, GIVING_INFORMATION_COLUMN)
CLIENT_CODE_COLUMNS = (CLIENT_TALK_COLUMN,)
CODE_COLUMNS = COACH_CODE_COLUMNS + CLIENT_CODE_COLUMNS  # also the trained coder's tasks, in its heads' order
CONFIDENCE_SUFFIX = "_confidence"  # <code column>_confidence: the probability of the label a coder chose
# MITI 4.2.1's adherence code: beside the main behaviour (a question may also be a Seek,
# an input a Persuade), so a separate column that coders may add.
ADHERENCE_COLUMN = "adherence"
ADHERENCE_LABELS = ("none", "affirm", "seeking_collaboration", "emphasizing_autonomy", "persuade",
                    "persuade_with_permission", "confront")
MI_ADHERENT = ("affirm", "seeking_collaboration", "emphasizing_autonomy")
MI_NON_ADHERENT = ("persuade", "confront")  # MITI 4.2.1: Persuade with Permission counts in neither total

LABELS: dict[str, tuple] = {
    MAIN_BEHAVIOUR_COLUMN: ("question", "reflection", "input", "other"),
    QUESTION_COLUMN: ("none", "open", "closed"),
    REFLECTION_COLUMN: ("none", "simple", "complex"),
    GIVING_INFORMATION_COLUMN: (False, True),
    CLIENT_TALK_COLUMN: ("change", "sustain", "neutral"),
}

# Probability of each label that a session metric counts: column -> (code, label).
# Summed over a session they give expected counts (see mifidelity.metrics.expected_metrics).
PROBABILITY_COLUMNS: dict[str, tuple[str, str]] = {
    "probability_open_question": (QUESTION_COLUMN, "open"),
    "probability_closed_question": (QUESTION_COLUMN, "closed"),
    "probability_simple_reflection": (REFLECTION_COLUMN, "simple"),
    "probability_complex_reflection": (REFLECTION_COLUMN, "complex"),
    "probability_change_talk": (CLIENT_TALK_COLUMN, "change"),
    "probability_sustain_talk": (CLIENT_TALK_COLUMN, "sustain"),
}


def confidence_column(code: str) -> str:
    """The name of the column that holds the confidence of ``code``'s label (``client_talk_confidence``)."""
    return code + CONFIDENCE_SUFFIX


def applies_to_coach(column: str) -> bool | None:
    """Whether a code, confidence or probability column belongs to coach rows (None: to neither)."""
    base = PROBABILITY_COLUMNS[column][0] if column in PROBABILITY_COLUMNS else column.removesuffix(CONFIDENCE_SUFFIX)
    if base in COACH_CODE_COLUMNS or base == ADHERENCE_COLUMN:
        return True
    if base in CLIENT_CODE_COLUMNS:
        return False
    return None


@runtime_checkable
class UtteranceCoder(Protocol):
    """Anything that codes a session's utterances."""

    info: StageInfo

    def load(self) -> "UtteranceCoder":
        """Load any model now rather than on the first session."""
        ...

    def code(self, roles: Sequence[str], texts: Sequence[str]) -> pd.DataFrame:
        """Code each utterance.

        Parameters
        ----------
        roles:
            ``"coach"`` or ``"client"`` per utterance, in session order.
        texts:
            The utterances' text, same length as ``roles``.

        Returns
        -------
        pandas.DataFrame
            One row per utterance (same order, a RangeIndex), with the columns in
            :data:`CODE_COLUMNS` (and optionally ``<column>_confidence``).
        """
        ...


BACKCHANNEL_COLUMN = "backchannel"


def is_true(value) -> bool:
    """A boolean cell, also as read back from a CSV (``"True"``)."""
    return value is True or str(value).lower() == "true"


def backchannel_flags(utterances: pd.DataFrame) -> list[bool]:
    """Whether each row is a back-channel (all False when the table has no ``backchannel`` column)."""
    if BACKCHANNEL_COLUMN not in utterances:
        return [False] * len(utterances)
    return [is_true(v) for v in utterances[BACKCHANNEL_COLUMN]]


def code_backchannels(coded: pd.DataFrame) -> pd.DataFrame:
    """Back-channels (``backchannel`` rows: a short "mm-hmm" inside the other's turn) are never a behaviour.

    Whatever the coder made of the words: a coach back-channel is ``other`` (no
    question, reflection, information or adherence code), a client back-channel is
    neutral talk; their probabilities of a counted code are 0 and the confidence of
    the code 1 (it is a rule). MITI 4.2.1 codes what the coach does in a turn; an
    "mm-hmm" while the client talks is no turn and no question or reflection.
    """
    if BACKCHANNEL_COLUMN not in coded or not coded[BACKCHANNEL_COLUMN].any():
        return coded
    coded = coded.copy()
    heard = coded[BACKCHANNEL_COLUMN].astype(bool)
    coach = heard & (coded["role"] == "coach")
    client = heard & (coded["role"] == "client")
    for column, value in ((MAIN_BEHAVIOUR_COLUMN, "other"), (QUESTION_COLUMN, "none"), (REFLECTION_COLUMN, "none"),
                          (GIVING_INFORMATION_COLUMN, False), (ADHERENCE_COLUMN, "none")):
        if column in coded:
            coded[column] = coded[column].astype(object).where(~coach, value)
    coded[CLIENT_TALK_COLUMN] = coded[CLIENT_TALK_COLUMN].astype(object).where(~client, "neutral")
    for column in coded.columns:
        if column in PROBABILITY_COLUMNS:
            coded.loc[heard & coded[column].notna(), column] = 0.0
        elif column.endswith(CONFIDENCE_SUFFIX):
            coded.loc[heard & coded[column].notna(), column] = 1.0
    return coded


def blank_codes(roles: Sequence[str]) -> pd.DataFrame:
    """An all-``None`` code table of the right shape, for coders to fill in."""
    return pd.DataFrame({c: pd.Series([None] * len(roles), dtype=object) for c in CODE_COLUMNS})
