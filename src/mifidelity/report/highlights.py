"""The report's evidence: missed opportunities, the coach's best complex reflections, the change ruler
and the client's feeling words.

The MITI 4.2.1 adherence moments (persuade / confront, strengths) are in
:mod:`mifidelity.report.fidelity_summary`. Rows are :func:`mifidelity.report.codes.utterance_rows`.
"""

from __future__ import annotations

from mifidelity.coding.change_ruler import ChangeRuler
from mifidelity.coding.feeling_words import LEXICON, FeelingWords
from mifidelity.report.codes import is_true, row_value


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


def missed_opportunities(rows: list[dict]) -> list[dict]:
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
            missed.append({"kind": "change", "client": i, "coach": j,
                           "why": "Change talk was not followed by a reflection."})
        elif talk == "sustain" and is_true(reply.get("giving_information")):
            missed.append({"kind": "sustain", "client": i, "coach": j,
                           "why": "Sustain talk was answered with information or advice."})
    # A coach reply can follow several client utterances; report each coach reply once per kind.
    seen, unique = set(), []
    for item in missed:
        key = (item["kind"], item["coach"])
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def best_complex_reflections(rows: list[dict], limit: int = 3) -> list[dict]:
    """The coder's most confident complex reflections (longest first when there is no confidence)."""
    found = [i for i, r in enumerate(rows) if r["role"] == "coach" and r.get("reflection") == "complex"]

    def score(i: int) -> tuple:
        confidence = row_value(rows[i], "reflection_confidence")
        return (float(confidence) if confidence is not None else 0.0, len(str(rows[i].get("text") or "")))

    chosen = sorted(found, key=score, reverse=True)[:limit]
    return [{"coach": i, "client": previous_client(rows, i)} for i in sorted(chosen)]


def change_ruler_items(ruler: ChangeRuler) -> list[dict]:
    """Each scaling question for the highlights: rows of question, answer and follow-up, and the number."""
    return [{"question": q.utterance, "dimension": q.dimension, "answer": q.answer_utterance,
             "number": None if q.client_number is None else f"{q.client_number:g}", "scale_top": q.scale_top,
             "follow_up": q.follow_up_utterance} for q in ruler.questions]


def feeling_items(feelings: FeelingWords, rows: list[dict]) -> dict:
    """The client's feeling words for the highlights: one item per client utterance (with the coach's
    reflecting utterance, or else the coach's next words), and the lexicon's name."""
    by_utterance: dict[int, dict] = {}
    for f in feelings.feelings:
        item = by_utterance.setdefault(f.utterance, {"client": f.utterance, "words": [], "emotions": [],
                                                     "coach": None, "coach_words": [],
                                                     "next_coach": next_coach(rows, f.utterance)})
        item["words"].append(f.word)
        item["emotions"] += [e for e in f.emotions if e not in item["emotions"]]
        if f.reflected:
            item["coach"] = item["coach"] if item["coach"] is not None else f.reflection_utterance
            item["coach_words"].append(f.coach_word)
    items = list(by_utterance.values())
    return {"items": items, "reflected": sum(i["coach"] is not None for i in items),
            "lexicon": f"{LEXICON['name']}, {LEXICON['package'].split(' (')[0]}"}
