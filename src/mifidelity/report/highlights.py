"""The report's evidence: missed opportunities, the coach's best complex reflections, the change ruler
and the client's feeling words.

The MITI 4.2.1 adherence moments (persuade / confront, strengths) are in
:mod:`mifidelity.report.fidelity_summary`. Rows are :func:`mifidelity.report.codes.utterance_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mifidelity.coding.change_ruler import ChangeRuler
from mifidelity.coding.feeling_words import LEXICON, FeelingWords
from mifidelity.report.codes import is_true, row_value


@dataclass(frozen=True)
class MissedOpportunity:
    """Client talk (row ``client``) whose next coach turn (row ``coach``) missed it."""

    kind: str  # "change": not reflected; "sustain": answered with information or advice
    client: int
    coach: int
    why: str


@dataclass(frozen=True)
class ReflectionPair:
    """A complex reflection of the coach (row ``coach``) and the client's words before it, if any."""

    coach: int
    client: int | None


@dataclass(frozen=True)
class RulerItem:
    """A scaling question (row ``question``), the client's answer and number, and the coach's follow-up."""

    question: int
    dimension: str  # importance, confidence, readiness, other
    answer: int | None
    number: str | None  # the client's number as shown ("6", "7.5")
    scale_top: int | float
    follow_up: int | None


@dataclass(frozen=True)
class FeelingItem:
    """A client utterance naming feelings, and the coach's utterance that reflected them (or its next words)."""

    client: int
    words: tuple[str, ...]
    emotions: tuple[str, ...]
    coach: int | None  # the reflecting coach utterance; None when not reflected
    coach_words: tuple[str, ...]
    next_coach: int | None


@dataclass(frozen=True)
class Feelings:
    """The client's feeling words for the highlights, and the lexicon they come from."""

    items: tuple[FeelingItem, ...]
    reflected: int
    lexicon: str


def next_coach(rows: list[dict], index: int) -> int | None:
    """The first coach utterance after ``index``."""
    for j in range(index + 1, len(rows)):
        if rows[j]["role"] == "coach":
            return j
    return None


def previous_client(rows: list[dict], index: int) -> int | None:
    """The last client utterance before ``index``."""
    for j in range(index - 1, -1, -1):
        if rows[j]["role"] == "client":
            return j
    return None


def missed_opportunities(rows: list[dict]) -> list[MissedOpportunity]:
    """Change talk whose next coach turn is no reflection; sustain talk answered with information/advice."""
    missed = []
    for i, row in enumerate(rows):
        talk = row.get("client_talk")
        if row["role"] != "client" or talk not in ("change", "sustain"):
            continue
        j = next_coach(rows, i)
        if j is None:
            continue
        # Only the first client utterance of a run of client talk before the coach's answer counts once.
        reply = rows[j]
        if talk == "change" and reply.get("reflection") not in ("simple", "complex"):
            missed.append(MissedOpportunity("change", i, j, "Change talk was not followed by a reflection."))
        elif talk == "sustain" and is_true(reply.get("giving_information")):
            missed.append(MissedOpportunity("sustain", i, j, "Sustain talk was answered with information or advice."))
    # A coach reply can follow several client utterances; report each coach reply once per kind.
    seen, unique = set(), []
    for item in missed:
        key = (item.kind, item.coach)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def best_complex_reflections(rows: list[dict], limit: int = 3) -> list[ReflectionPair]:
    """The coder's most confident complex reflections (longest first when there is no confidence)."""
    found = [i for i, r in enumerate(rows) if r["role"] == "coach" and r.get("reflection") == "complex"]

    def score(i: int) -> tuple:
        confidence = row_value(rows[i], "reflection_confidence")
        return (float(confidence) if confidence is not None else 0.0, len(str(rows[i].get("text") or "")))

    chosen = sorted(found, key=score, reverse=True)[:limit]
    return [ReflectionPair(coach=i, client=previous_client(rows, i)) for i in sorted(chosen)]


def change_ruler_items(ruler: ChangeRuler) -> list[RulerItem]:
    """Each scaling question for the highlights: rows of question, answer and follow-up, and the number."""
    return [RulerItem(question=q.utterance, dimension=q.dimension, answer=q.answer_utterance,
                      number=None if q.client_number is None else f"{q.client_number:g}", scale_top=q.scale_top,
                      follow_up=q.follow_up_utterance) for q in ruler.questions]


def feeling_items(feelings: FeelingWords, rows: list[dict]) -> Feelings:
    """The client's feeling words for the highlights: one item per client utterance (with the coach's
    reflecting utterance, or else the coach's next words), and the lexicon's name."""
    found: dict[int, list] = {}  # client row -> the feelings found in it, in order
    for f in feelings.feelings:
        found.setdefault(f.utterance, []).append(f)
    items = []
    for utterance, mine in found.items():
        reflected = [f for f in mine if f.reflected]
        items.append(FeelingItem(
            client=utterance,
            words=tuple(f.word for f in mine),
            emotions=tuple(dict.fromkeys(e for f in mine for e in f.emotions)),
            coach=reflected[0].reflection_utterance if reflected else None,
            coach_words=tuple(f.coach_word for f in reflected),
            next_coach=next_coach(rows, utterance),
        ))
    return Feelings(items=tuple(items), reflected=sum(item.coach is not None for item in items),
                    lexicon=f"{LEXICON['name']}, {LEXICON['package'].split(' (')[0]}")
