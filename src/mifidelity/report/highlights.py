"""The report's evidence: missed opportunities and the coach's best complex reflections.

The MITI 4.2.1 adherence moments (persuade / confront, strengths) are in
:mod:`mifidelity.report.fidelity_summary`. Rows are :func:`mifidelity.report.codes.utterance_rows`.
"""

from __future__ import annotations

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
