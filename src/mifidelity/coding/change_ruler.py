"""The change ruler: scaling questions, the client's number and the coach's follow-up.

MI trainers look for the "ruler": the coach asks "on a scale of 0 to 10, how important / how
confident / how ready ...", the client gives a number, and a skilled coach follows up so that the
client voices change talk: "why a 6 and not a 3?" (what the client already has) or "what would it
take to get from 6 to 8?" (what would move them). This module finds those moments in a coded
session's utterance table from the words alone (recogniser text: lower or upper case, with or
without punctuation, numbers as digits or words).

Rules, in the order they apply:

- A coach utterance is a **scaling question** when it gives a range ("0 to 10", "1 to 100", "out
  of ten", "where 10 is ...") or names a scale ("on a scale", "same scale") while asking for a rating
  ("how important", "what number", "where would you"; "when you step on the scale" is the bathroom
  one), and is not the follow-up of a ruler already answered. A second scaling utterance before the
  client has answered (the coach explaining the ends of the scale) belongs to the same question.
- **What was asked about**: "how important / confident / ready" in the question (with its
  continuation before the client answers), else the first of importance / confidence / readiness
  it names, else the coach utterance just before (a question cut in two by the client); anything
  else ("how serious", "how motivated") is ``other``.
- **The client's number** is the first number within the scale in the next
  :data:`ANSWER_WINDOW` client utterances ("um maybe a six", "six or seven" -> 6,
  "seven and a half" -> 7.5); "one" counts only where it stands as a rating ("a one", "maybe one"),
  and a number followed by a unit ("two kids", "ten years") is not a rating.
- **A follow-up** is a coach utterance within the next :data:`FOLLOW_UP_WINDOW` coach utterances
  after the answer that asks why or what it would take ("why", "how come", "what makes", "what would
  it take", "instead of", "rather than", "move you up") and refers to the scale (a number, "higher",
  "lower", "zero").

Back-channels ("mm-hmm" inside the other person's turn) are skipped throughout. Nothing here logs
transcript text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass

import pandas as pd

from mifidelity.coding.base import backchannel_flags

DIMENSIONS = ("importance", "confidence", "readiness", "other")
# How far to look, in utterances of the other speaker (back-channels not counted): a client often
# answers after a clarifying question, and a coach often echoes the number before asking why.
ANSWER_WINDOW = 5
FOLLOW_UP_WINDOW = 3

_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
          "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_TOP = r"(?:ten|10|a hundred|one hundred|hundred|100)"
_RANGE = re.compile(rf"\b(?:zero|0|one|1) (?:to|and|through|or) {_TOP}\b|\bout of {_TOP}\b"
                    rf"|\b{_TOP} (?:is|being|means|meaning|would be)\b")
_NAMED_SCALE = re.compile(r"\b(?:on|from|using|onto|in|same|that|this|the|a|your|my|our) scale\b(?! (?:back|down)\b)")
# "on the scale" is also the bathroom scale: a named scale without a range must come with a rating question.
_RATING_QUESTION = re.compile(
    r"\bhow (?:important|confident|ready|sure|likely|much|motivated|interested|committed|willing|serious)\b"
    r"|\bwhat number\b|\bwhere (?:would|do|are|is|does)\b|\bwhere's\b|\brate\b|\bpick\b")
_HUNDRED = r"(?:a hundred|one hundred|hundred|100)"
_HUNDRED_SCALE = re.compile(rf"\b(?:to|and|through|or|out of) {_HUNDRED}\b|\b{_HUNDRED} (?:is|being|means|meaning)\b")
_DIMENSION_CUES = {
    "importance": re.compile(r"\bimportan(?:t|ce)\b"),
    "confidence": re.compile(r"\bconfiden(?:t|ce)\b"),
    "readiness": re.compile(r"\bready\b|\breadiness\b"),
}
_HOW_DIMENSION = re.compile(r"\bhow (?:important|confident|ready)\b")
_FOLLOW_UP_CUE = re.compile(
    r"\bwhy\b|\bhow come\b|\bwhat (?:makes|made|puts|put|keeps|stops|brings|brought|got)\b"
    r"|\bwhat would (?:it )?take\b|\bwhat (?:would|could|might) (?:need to|have to|help|make|get|move)\b"
    r"|\bwhat (?:needs|has) to happen\b|\brather than\b|\binstead of\b|\bas opposed to\b|\band not\b"
    r"|\b(?:would|could|might|will) (?:it |you )?take\b"
    r"|\b(?:move|get|go|bump|raise|bring|push)\b(?: \w+){0,3} (?:up|higher|from|to)\b")
_SCALE_REFERENCE = re.compile(r"\b(?:higher|lower|zero|up the scale|down the scale)\b")
# "one" is a rating only where a rating stands ("a one", "maybe one"); elsewhere it is "one day", "no one".
_ONE_AS_RATING = {"a", "an", "about", "say", "maybe", "probably", "like", "around", "at", "be", "is", "was",
                  "i'm", "im", "than", "just", "only", "even", "definitely"}
# A number followed by one of these counts things ("two kids", "ten years"): not a rating.
_COUNTED = {"years", "year", "days", "day", "weeks", "week", "months", "month", "times", "hours", "hour",
            "minutes", "kids", "children", "people", "pounds", "drinks", "beers", "glasses", "packs",
            "cigarettes", "bottles", "cans", "dollars", "o'clock", "am", "pm", "of"}


@dataclass(frozen=True)
class ScalingQuestion:
    """One change-ruler question and what came of it; utterances are row positions (0-based)."""

    utterance: int  # the coach's scaling question
    dimension: str  # importance | confidence | readiness | other
    scale_top: int  # 10 or 100
    answer_utterance: int | None  # the client utterance holding the number
    client_number: float | None  # the client's number (None: no number within ANSWER_WINDOW)
    followed_up: bool
    follow_up_utterance: int | None


@dataclass(frozen=True)
class ChangeRuler:
    """Every scaling question of a session (session.json's ``change_ruler``)."""

    questions: tuple[ScalingQuestion, ...]

    def as_dict(self) -> dict:
        """JSON-safe: the questions plus counts (all zero and an empty list when there are none)."""
        by_dimension = Counter(q.dimension for q in self.questions)
        return {
            "count": len(self.questions),
            "answered_with_number": sum(q.client_number is not None for q in self.questions),
            "followed_up": sum(q.followed_up for q in self.questions),
            "by_dimension": {d: by_dimension.get(d, 0) for d in DIMENSIONS},
            "questions": [{**asdict(q), "client_number": _plain_number(q.client_number)} for q in self.questions],
        }


def normalise(text: str) -> str:
    """Lower case, "0-10" as "0 to 10", other hyphens and punctuation as spaces (apostrophes and decimal
    points kept)."""
    text = re.sub(r"(?<=\d)\s*[-\u2013]\s*(?=\d)", " to ", str(text).lower().replace("\u2019", "'"))  # "0-10"
    text = re.sub(r"[^a-z0-9'%.]+", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # a full stop, not a decimal point
    return re.sub(r"\s+", " ", text).strip()


def scale_numbers(words: list[str], top: int) -> list[tuple[int, float]]:
    """(word position, value) of every number from 0 to ``top`` said as a rating."""
    found = []
    k = 0
    while k < len(words):
        word, value, width = words[k], None, 1
        if re.fullmatch(r"\d+(?:\.\d+)?%?", word):
            value = float(word.rstrip("%"))
        elif word in _TENS:
            value = _TENS[word]
            if k + 1 < len(words) and words[k + 1] in _UNITS and 0 < _UNITS[words[k + 1]] < 10:
                value, width = value + _UNITS[words[k + 1]], 2
        elif word == "hundred" and (k == 0 or words[k - 1] in ("a", "one")):
            value = 100
        elif word in _UNITS:
            value = _UNITS[word]
            if word == "one" and not (len(words) == 1 or (k > 0 and words[k - 1] in _ONE_AS_RATING)):
                value = None
        after = words[k + width:k + width + 3]
        if value is not None and after[:3] == ["and", "a", "half"]:
            value, width = value + 0.5, width + 3
        elif value is not None and after[:1] and after[0] in _COUNTED:
            value = None
        if value is not None and 0 <= value <= top:
            found.append((k, float(value)))
        k += width
    return found


def find_change_ruler(utterances: pd.DataFrame) -> ChangeRuler:
    """The scaling questions of a session.

    Parameters
    ----------
    utterances:
        The coded-utterance table (:mod:`mifidelity.session`), or any table with ``role`` and
        ``text`` (and optionally ``backchannel``), in order.
    """
    roles = [str(r) for r in utterances["role"]]
    texts = [normalise("" if t is None or t != t else t) for t in utterances["text"]]
    backchannel = backchannel_flags(utterances)
    turns = [i for i in range(len(roles)) if not backchannel[i]]
    questions: list[ScalingQuestion] = []
    answered_ruler = False  # a ruler has been answered: a later "why not a zero, on that scale" follows it up
    pending: int | None = None  # a scaling question the client has not answered yet
    for position, i in enumerate(turns):
        if roles[i] == "client":
            pending = None
            continue
        if roles[i] != "coach" or not _names_scale(texts[i]):
            continue
        if answered_ruler and _is_follow_up(texts[i], 100):
            continue
        if pending is not None:
            continue  # the same question, explained further before the client answers
        pending = i
        question = _question(i, turns[position + 1:], roles, texts)
        answered_ruler = answered_ruler or question.client_number is not None
        questions.append(question)
    return ChangeRuler(tuple(questions))


def _question(i: int, later: list[int], roles: list[str], texts: list[str]) -> ScalingQuestion:
    top = 100 if _HUNDRED_SCALE.search(texts[i]) else 10
    # Stop looking at the next scaling question: what follows belongs to it.
    following = []
    for j in later:
        answered = any(roles[k] == "client" for k in following)  # before that, the coach is still explaining
        if answered and roles[j] == "coach" and _names_scale(texts[j]) and not _is_follow_up(texts[j], top):
            break
        following.append(j)
    answer, number = None, None
    for j in [j for j in following if roles[j] == "client"][:ANSWER_WINDOW]:
        numbers = scale_numbers(_RANGE.sub(" ", texts[j]).split(), top)  # not the scale's ends repeated back
        if numbers:
            answer, number = j, numbers[0][1]
            break
    after = [j for j in following if roles[j] == "coach" and (answer is None or j > answer)]
    follow_up = next((j for j in after[:FOLLOW_UP_WINDOW] if _is_follow_up(texts[j], top)), None)
    # The question may go on before the client answers ("... zero to ten." "Where zero means ..., how
    # ready are you?"), or may have begun before a word from the client ("how confident are you-" "I-"
    # "-on that same scale?").
    before_answer = [j for j in following if answer is None or j < answer]
    asked = texts[i] + " " + " ".join(texts[j] for j in before_answer if roles[j] == "coach"
                                      and not any(roles[c] == "client" for c in before_answer if c < j))
    dimension = _dimension(asked)
    earlier = i - 1 - (i > 1 and roles[i - 1] != "coach")
    if dimension == "other" and earlier >= 0 and roles[earlier] == "coach":
        dimension = _dimension(texts[earlier])
    return ScalingQuestion(utterance=i, dimension=dimension, scale_top=top, answer_utterance=answer,
                           client_number=number, followed_up=follow_up is not None, follow_up_utterance=follow_up)


def _names_scale(text: str) -> bool:
    """A rating scale: a range ("0 to 10", "out of ten"), or a named scale asked about."""
    return bool(_RANGE.search(text)) or bool(_NAMED_SCALE.search(text) and _RATING_QUESTION.search(text))


def _dimension(text: str) -> str:
    """What the question asks about: "how important / confident / ready" first ("nine, that's
    important; and how confident are you ..."), else the first of them it names, else ``other``."""
    asked = _HOW_DIMENSION.search(text)
    if asked:
        return next(name for name, cue in _DIMENSION_CUES.items() if cue.search(asked.group(0)))
    found = [(m.start(), name) for name, cue in _DIMENSION_CUES.items() if (m := cue.search(text))]
    return min(found)[1] if found else "other"


def _is_follow_up(text: str, top: int) -> bool:
    """Asks why, or what it would take, about a point on the scale."""
    return bool(_FOLLOW_UP_CUE.search(text)) and bool(scale_numbers(text.split(), top) or _SCALE_REFERENCE.search(text))


def _plain_number(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value
