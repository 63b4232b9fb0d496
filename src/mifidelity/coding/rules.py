"""A dependency-free keyword coder: the fallback and the sanity baseline.

Deliberately small. It finds questions from "?" or a question word / auxiliary
verb at the start of the last sentence, reflections from typical reflective
stems ("sounds like", "you feel", "so you ..."), information from a few
informational cues, client change/sustain talk from desire/ability/reason/
need/commitment phrases and their negations, and MITI's adherence codes from
their typical phrases ("it's up to you", "you should", "would it be okay if").
"""

from __future__ import annotations

import re
from typing import Sequence

import pandas as pd

from mifidelity.coding.base import (ADHERENCE_COLUMN, CLIENT_TALK_COLUMN, GIVING_INFORMATION_COLUMN, MAIN_BEHAVIOUR_COLUMN,
                                    QUESTION_COLUMN, REFLECTION_COLUMN, blank_codes, confidence_column)
from mifidelity.config import CodingConfig
from mifidelity.types import StageInfo

_FILLERS = r"^(?:(?:so|and|but|okay|ok|well|now|um|uh|then|alright|right)\s+)*"
_OPEN = re.compile(_FILLERS + r"(what|how|why|tell me|describe|help me understand|in what way)\b")
_CLOSED = re.compile(
    _FILLERS + r"(do|does|did|is|are|was|were|can|could|would|will|have|has|had|should|may|am|when|where|who|which"
    r"|isn't|aren't|don't|doesn't|didn't|won't|wouldn't|can't|haven't)\b"
)
_REFLECTION = re.compile(
    r"\b(sounds like|it sounds|you feel|you're feeling|it seems|seems like|you're saying|so you|you've been|part of you"
    r"|you want|you'd like|you're worried|you're not sure|you're concerned|for you)\b"
)
_COMPLEX = re.compile(r"\b(feel|feeling|worried|scared|afraid|part of you|on the other hand|but you|important to you|really)\b")
_INFORMATION = re.compile(r"\b(research|studies|percent|recommended|guidelines?|risk of|units?|per day|per week|can cause|increases?)\b")
_CHANGE = re.compile(
    r"\b(i want to|i need to|i'm going to|i am going to|i will|i'll|i can|i could|i should|i'd like to|i have to"
    r"|i've started|i have started|i'm ready|i want|i plan|i'm trying|try to|cut down|cut back|quit|stop)\b"
)
_SUSTAIN = re.compile(
    r"\b(i don't want|i can't|i won't|i'm not going to|not ready|i like|i enjoy|it helps me|it's not a problem"
    r"|not a big deal|i don't think|no way|i don't need|i need it|too hard)\b"
)
# Adherence phrases, checked in this order (the first that matches decides).
_ADHERENCE_RULES = (
    ("confront", re.compile(r"\b(making excuses|in denial|you're wrong|that's not true|you're not listening|you never|"
                            r"you always|be honest with|you're kidding yourself)\b")),
    ("persuade_with_permission", re.compile(r"\b(if it's ok(ay)? with you|if you'd like|would you like to hear|"
                                            r"see what you think|some people find|take it or leave it)\b")),
    ("persuade", re.compile(r"\b(you should|you need to|you have to|you must|you ought to|you've got to|"
                            r"i recommend|i'd recommend|i suggest|i'd suggest|my advice)\b")),
    ("emphasizing_autonomy", re.compile(r"\b(up to you|your choice|your decision|you decide|your call|"
                                        r"only you can|you're the expert|you know yourself best)\b")),
    ("seeking_collaboration", re.compile(r"\b(would it be (ok|okay|all right|alright) if|what do you think|"
                                         r"how would you like|what would you like to|shall we|can we|"
                                         r"would you be willing|what ideas do you have)\b")),
    ("affirm", re.compile(r"\b(well done|great job|good for you|you've done|that takes|you're clearly|"
                          r"i appreciate|impressive|you worked hard|you've worked hard|you managed)\b")),
)


def adherence_code(plain: str) -> str:
    """The MITI 4.2.1 adherence code of a coach utterance by its phrases (``none`` when no phrase fits)."""
    return next((label for label, pattern in _ADHERENCE_RULES if pattern.search(plain)), "none")


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s'?]", " ", str(text).lower())).strip()


class RuleCoder:
    """Keyword heuristics with the :class:`~mifidelity.coding.base.UtteranceCoder` interface.

    Confidences are fixed guesses (0.9 for a "?" or a strong phrase, 0.6 otherwise):
    they rank, they are not calibrated.
    """

    info = StageInfo(engine="rules", model="keywords", version="1")

    @classmethod
    def from_config(cls, config: CodingConfig) -> "RuleCoder":
        """The rules take no settings from the ``coding`` section."""
        return cls()

    def load(self) -> "RuleCoder":
        """Nothing to load: the rules are code."""
        return self

    def code(self, roles: Sequence[str], texts: Sequence[str]) -> pd.DataFrame:
        """Code each utterance with keyword rules (see the module docstring)."""
        if len(roles) != len(texts):
            raise ValueError(f"{len(roles)} roles for {len(texts)} texts")
        codes = blank_codes(roles)
        codes[ADHERENCE_COLUMN] = pd.Series([None] * len(roles), dtype=object)
        for column in list(codes.columns):
            codes[confidence_column(column)] = pd.Series([None] * len(roles), dtype=object)
        for i, (role, text) in enumerate(zip(roles, texts)):
            plain = _normalise(text or "")
            sentences = [s.strip() for s in re.split(r"(?<=[?.!])\s+|\?", plain) if s.strip()] or [""]
            last = sentences[-1]
            if role == "coach":
                self._code_coach(codes, i, str(text or ""), plain, last)
            else:
                self._code_client(codes, i, plain)
        return codes

    @staticmethod
    def _code_coach(codes: pd.DataFrame, i: int, raw: str, plain: str, last: str) -> None:
        marked = "?" in raw
        question = "none"
        if _OPEN.search(last) or (marked and _OPEN.search(plain)):
            question = "open"
        elif _CLOSED.search(last) or marked:
            question = "closed"
        reflective = bool(_REFLECTION.search(plain)) and question == "none"
        reflection = ("complex" if _COMPLEX.search(plain) else "simple") if reflective else "none"
        informing = bool(_INFORMATION.search(plain)) and question == "none"
        main = "question" if question != "none" else "reflection" if reflective else "input" if informing else "other"
        values = {MAIN_BEHAVIOUR_COLUMN: main, QUESTION_COLUMN: question, REFLECTION_COLUMN: reflection,
                  GIVING_INFORMATION_COLUMN: informing}
        for column, value in values.items():
            codes.at[i, column] = value
            codes.at[i, confidence_column(column)] = 0.9 if (marked or reflective) else 0.6
        codes.at[i, ADHERENCE_COLUMN] = adherence_code(plain)
        codes.at[i, confidence_column(ADHERENCE_COLUMN)] = 0.6

    @staticmethod
    def _code_client(codes: pd.DataFrame, i: int, plain: str) -> None:
        if _SUSTAIN.search(plain):
            talk = "sustain"
        elif _CHANGE.search(plain):
            talk = "change"
        else:
            talk = "neutral"
        codes.at[i, CLIENT_TALK_COLUMN] = talk
        codes.at[i, confidence_column(CLIENT_TALK_COLUMN)] = 0.6
