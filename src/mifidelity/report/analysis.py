"""What the report says about a session, computed from the coded utterances.

Everything here is plain data (dicts, lists, numbers, strings) for the
templates; nothing here writes HTML, so escaping stays the templates' job
(Jinja2 autoescape). Nothing here logs transcript text.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from mifidelity.coding.base import ADHERENCE_COLUMN, MI_ADHERENT, MI_NON_ADHERENT
from mifidelity.metrics import THRESHOLDS, SessionMetrics, Threshold, rate

AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".flac", ".aac", ".webm", ".mp4", ".wma")
BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 20240421

# Metric -> (numerator column, denominator column, scale) over the indicator table of _indicators().
_RATIOS = {
    "reflection_to_question": ("reflection", "question", 1.0),
    "pct_complex_reflections": ("complex", "reflection", 100.0),
    "pct_open_questions": ("open", "question", 100.0),
    "pct_change_talk": ("change", "change_or_sustain", 100.0),
    "coach_talk_share": ("coach_seconds", "seconds", 1.0),
}
# What a metric's denominator counts, for "based on N ..." sentences.
_BASIS = {
    "reflection_to_question": "questions",
    "pct_complex_reflections": "reflections",
    "pct_open_questions": "questions",
    "pct_change_talk": "change or sustain talk statements",
    "coach_talk_share": "utterances",
}


# --------------------------------------------------------------------------- codes per utterance

def _is_true(value) -> bool:
    return value is True or str(value).lower() == "true"


def _value(row: dict, key: str):
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def utterance_codes(row: dict) -> list[str]:
    """Filter codes of one utterance (e.g. ``question q-open``); see CODE_FILTERS."""
    codes = []
    if row.get("role") == "coach":
        if _value(row, "question") in ("open", "closed"):
            codes += ["question", f"q-{row['question']}"]
        if _value(row, "reflection") in ("simple", "complex"):
            codes += ["reflection", f"r-{row['reflection']}"]
        if _is_true(row.get("giving_information")):
            codes.append("gi")
        adherence = _value(row, ADHERENCE_COLUMN)
        if adherence in ADHERENCE_FILTER:
            group = "adherent" if adherence in MI_ADHERENT else "non-adherent" if adherence in MI_NON_ADHERENT else None
            codes += ([group] if group else []) + [ADHERENCE_FILTER[adherence]]
        if not codes:
            codes.append("other")
    else:
        talk = _value(row, "client_talk")
        if talk in ("change", "sustain", "neutral"):
            codes.append(f"ct-{talk}")
    return codes


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


# --------------------------------------------------------------------------- bootstrap intervals

def _indicators(utterances: pd.DataFrame) -> pd.DataFrame:
    """One row per utterance, one numeric column per count the metrics are ratios of."""
    coach = (utterances["role"] == "coach").to_numpy()
    client = ~coach
    question = utterances.get("question", pd.Series(index=utterances.index, dtype=object))
    reflection = utterances.get("reflection", pd.Series(index=utterances.index, dtype=object))
    talk = utterances.get("client_talk", pd.Series(index=utterances.index, dtype=object))
    table = pd.DataFrame({
        "question": coach & question.isin(["open", "closed"]).to_numpy(),
        "open": coach & (question == "open").to_numpy(),
        "reflection": coach & reflection.isin(["simple", "complex"]).to_numpy(),
        "complex": coach & (reflection == "complex").to_numpy(),
        "change": client & (talk == "change").to_numpy(),
        "change_or_sustain": client & talk.isin(["change", "sustain"]).to_numpy(),
    }).astype(float)
    if {"start", "end"} <= set(utterances.columns) and len(utterances) and utterances[["start", "end"]].notna().all(axis=None):
        seconds = (utterances["end"].astype(float) - utterances["start"].astype(float)).clip(lower=0).to_numpy()
    else:
        seconds = np.full(len(utterances), np.nan)
    table["seconds"] = seconds
    table["coach_seconds"] = np.where(coach, seconds, 0.0)
    return table


def bootstrap_intervals(utterances: pd.DataFrame, rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED,
                        level: float = 0.95) -> dict[str, dict]:
    """A percentile bootstrap interval per ratio metric, resampling utterances with replacement.

    Returns ``{metric: {"low", "high", "basis", "basis_label"}}``; ``low``/``high``
    are ``None`` when the metric cannot be computed (zero denominator) or fewer
    than half of the resamples could compute it. ``basis`` is the metric's
    denominator count in the session (e.g. the number of questions), which is
    what decides how far to trust it. Deterministic for a given session.
    """
    table = _indicators(utterances)
    n = len(table)
    result: dict[str, dict] = {}
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(rounds, n)) if n else None
    for metric, (num, den, scale) in _RATIOS.items():
        values = table[[num, den]].to_numpy()
        basis = int(len(table)) if metric == "coach_talk_share" else int(table[den].sum())
        low = high = None
        if n and not np.isnan(values).any() and values[:, 1].sum() > 0:
            numerators = values[:, 0][picks].sum(axis=1)
            denominators = values[:, 1][picks].sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = scale * numerators / denominators
            ratios = ratios[np.isfinite(ratios)]
            if len(ratios) >= rounds / 2:
                tail = 100 * (1 - level) / 2
                low, high = (round(float(v), 3) for v in np.percentile(ratios, [tail, 100 - tail]))
        result[metric] = {"low": low, "high": high, "basis": basis, "basis_label": _BASIS[metric]}
    return result


# --------------------------------------------------------------------------- formatting

def format_value(metric: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric == "coach_talk_share":
        return f"{value:.0%}"
    if metric.startswith("pct_"):
        return f"{value:.0f}%"
    return f"{value:.2f}"


def clock(seconds) -> str:
    """``mm:ss`` (``h:mm:ss`` past an hour); empty for missing times."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


# --------------------------------------------------------------------------- scorecard

def _axis_max(threshold: Threshold, value: float | None, high: float | None) -> float:
    if threshold.metric == "coach_talk_share":
        return 1.0
    if threshold.metric.startswith("pct_"):
        return 100.0
    top = max(v for v in (3.0, value or 0.0, high or 0.0))
    return float(math.ceil(top))


def _band(threshold: Threshold, value: float | None, low: float | None, high: float | None) -> dict:
    """Geometry (percent of the bar's width) of a metric's rating band, value and interval."""
    top = _axis_max(threshold, value, high)
    pos = lambda v: None if v is None else max(0.0, min(100.0, 100.0 * v / top))  # noqa: E731
    zones = []
    if threshold.fair is None:
        zones.append({"cls": "info", "x": 0.0, "w": 100.0, "label": ""})
    elif threshold.higher_is_better:
        zones += [
            {"cls": "below", "x": 0.0, "w": pos(threshold.fair), "label": "below fair"},
            {"cls": "fair", "x": pos(threshold.fair), "w": pos(threshold.good) - pos(threshold.fair), "label": "fair"},
            {"cls": "good", "x": pos(threshold.good), "w": 100.0 - pos(threshold.good), "label": "good"},
        ]
    else:
        zones += [
            {"cls": "good", "x": 0.0, "w": pos(threshold.good), "label": "good"},
            {"cls": "fair", "x": pos(threshold.good), "w": pos(threshold.fair) - pos(threshold.good), "label": "fair"},
            {"cls": "below", "x": pos(threshold.fair), "w": 100.0 - pos(threshold.fair), "label": "below fair"},
        ]
    ticks = [{"x": pos(t), "label": format_value(threshold.metric, t)}
             for t in (threshold.fair, threshold.good) if t is not None]
    return {"zones": zones, "ticks": ticks, "value": pos(value), "low": pos(low), "high": pos(high),
            "min_label": format_value(threshold.metric, 0.0), "max_label": format_value(threshold.metric, top)}


def scorecard(metrics: SessionMetrics, intervals: dict[str, dict], expected: dict | None = None) -> list[dict]:
    """One card per headline metric: value, rating, interval, band geometry and plain words.

    ``expected`` (:func:`mifidelity.metrics.expected_metrics`) adds, where it has the metric,
    the estimate from the coder's summed probabilities beside the counted value.
    """
    from mifidelity.metrics import verdict_sentence

    cards = []
    for threshold in THRESHOLDS:
        value = getattr(metrics, threshold.metric)
        rating = rate(value, threshold)
        interval = intervals.get(threshold.metric, {})
        low, high = interval.get("low"), interval.get("high")
        uncertainty = ""
        if value is not None:
            basis = interval.get("basis", 0)
            what = interval.get("basis_label", "")
            if low is not None:
                uncertainty = f"Based on {basis} {what}."
                if threshold.fair is not None:
                    spans = _between({rate(low, threshold), rate(high, threshold)})
                    if len(spans) > 1:
                        uncertainty += (f" The 95% interval spans {' to '.join(spans)}, "
                                        "so the rating is uncertain.")
            if basis < 5 and threshold.metric != "coach_talk_share":
                uncertainty = f"Only {basis} {what}: too few to judge the session on."
        cards.append({
            "metric": threshold.metric,
            "label": threshold.label,
            "value": value,
            "shown": format_value(threshold.metric, value),
            "low": low,
            "high": high,
            "rating": rating,
            "rating_cls": {"good": "good", "fair": "fair", "below fair": "below"}.get(rating, "none"),
            "source": threshold.source,
            "meaning": threshold.meaning,
            "verdict": verdict_sentence(threshold, value, rating),
            "uncertainty": uncertainty.strip(),
            "band": _band(threshold, value, low, high),
            "expected": None if not expected or expected.get(threshold.metric) is None
            else format_value(threshold.metric, expected[threshold.metric]),
        })
    return cards


def _between(ratings: set[str]) -> list[str]:
    order = ["below fair", "fair", "good"]
    idx = [order.index(r) for r in ratings if r in order]
    return order[min(idx):max(idx) + 1] if idx else []


# --------------------------------------------------------------------------- highlights

def _rows(utterances: pd.DataFrame) -> list[dict]:
    return utterances.astype(object).where(utterances.notna(), None).to_dict(orient="records")


def _next_coach(rows: list[dict], index: int) -> int | None:
    for j in range(index + 1, len(rows)):
        if rows[j]["role"] == "coach":
            return j
    return None


def _previous_client(rows: list[dict], index: int) -> int | None:
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
        j = _next_coach(rows, i)
        if j is None:
            continue
        # Only the first client utterance of a run of client talk before the coach's answer counts once.
        reply = rows[j]
        if talk == "change" and reply.get("reflection") not in ("simple", "complex"):
            missed.append({"kind": "change", "client": i, "coach": j,
                           "why": "Change talk was not followed by a reflection."})
        elif talk == "sustain" and _is_true(reply.get("giving_information")):
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
        confidence = _value(rows[i], "reflection_confidence")
        return (float(confidence) if confidence is not None else 0.0, len(str(rows[i].get("text") or "")))

    chosen = sorted(found, key=score, reverse=True)[:limit]
    return [{"coach": i, "client": _previous_client(rows, i)} for i in sorted(chosen)]


# --------------------------------------------------------------------------- suggestions

def _good(metric: str) -> float:
    """The MITI 'good' level of a metric, from the one threshold table (:data:`metrics.THRESHOLDS`)."""
    return next(t.good for t in THRESHOLDS if t.metric == metric)


def suggestions(metrics: SessionMetrics, rows: list[dict], missed: list[dict], count: int = 3,
                moments: list[dict] | None = None) -> list[dict]:
    """Concrete things to try next time, most pressing first, derived from the numbers.

    ``moments`` are the session's persuade / confront moments (:func:`non_adherent_moments`);
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
    persuaded = [m for m in moments if m["kind"] == "persuade"]
    if persuaded:
        at = clock(rows[persuaded[0]["coach"][0]].get("start"))
        candidates.append((
            0.95 + 0.1 * len(persuaded), "Ask before advising",
            f"{len(persuaded)} time(s) you advised, warned or argued for change without the client's permission "
            "(MITI 'persuade')" + (f", first at {at}" if at else "") + ". Ask first (\"Would it be all right if I "
            "shared what has worked for others?\"), offer it as one option, and ask what they make of it: "
            "the same advice given that way counts as persuading with permission, not against MI."))
    confronted = [m for m in moments if m["kind"] == "confront"]
    if confronted:
        at = clock(rows[confronted[0]["coach"][0]].get("start"))
        candidates.append((
            1.1 + 0.15 * len(confronted), "Roll with it instead of arguing",
            f"{len(confronted)} time(s) you disagreed with, corrected or criticised the client (MITI 'confront')"
            + (f", first at {at}" if at else "") + ". Arguing tends to draw out more reasons not to change. "
            "Reflect their view instead (\"You're not convinced this is a problem\") and ask what would "
            "have to change for it to become one."))
    missed_change = [m for m in missed if m["kind"] == "change"]
    if missed_change:
        first = rows[missed_change[0]["client"]]
        at = clock(first.get("start"))
        candidates.append((
            0.8 + 0.1 * len(missed_change), "Catch change talk",
            f"{len(missed_change)} time(s) the client spoke for change and the next coach turn was not a reflection"
            + (f" (first at {at})" if at else "") + ". When you hear a reason, desire or plan to change, "
            "reflect it back before moving on: it is the moment most worth amplifying."))
    missed_sustain = [m for m in missed if m["kind"] == "sustain"]
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
    # No MITI threshold for % change talk (see THRESHOLDS); below half means more talk against change than for it.
    if metrics.change_talk + metrics.sustain_talk and (metrics.pct_change_talk or 0) < 50.0:
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
        chosen.append({"title": title, "text": text})
        if len(chosen) == count:
            break
    return chosen


# --------------------------------------------------------------------------- timeline

def timeline(rows: list[dict], width: float = 1000.0) -> dict:
    """Geometry of the who-spoke-when plot (SVG user units) with code markers.

    Uses the utterances' times when every utterance has them, else their order.
    """
    timed = bool(rows) and all(_value(r, "start") is not None and _value(r, "end") is not None for r in rows)
    left, right = 70.0, 10.0
    span_w = width - left - right
    if timed:
        t0 = 0.0
        t1 = max(float(r["end"]) for r in rows) or 1.0
    else:
        t0, t1 = 0.0, float(max(len(rows), 1))
    scale = span_w / (t1 - t0 if t1 > t0 else 1.0)
    lanes = {"coach": 30.0, "client": 80.0}
    lane_h = 22.0
    bars, marks = [], []
    for i, row in enumerate(rows):
        start = float(row["start"]) if timed else float(i)
        end = float(row["end"]) if timed else float(i) + 0.9
        x = left + (start - t0) * scale
        w = max(1.5, (end - start) * scale)
        role = row["role"] if row["role"] in lanes else "client"
        y = lanes[role]
        codes = utterance_codes(row)
        bars.append({"i": i, "x": round(x, 2), "y": y, "w": round(w, 2), "h": lane_h, "role": role,
                     "label": f"{clock(row.get('start')) or '#' + str(i + 1)} {role}: "
                              + (", ".join(TAG_LABELS.get(c, c) for c in codes if c in TAG_LABELS) or "no code")})
        cx = round(x + w / 2, 2)
        if "question" in codes:
            marks.append({"i": i, "kind": "q-open" if "q-open" in codes else "q-closed", "x": cx, "y": y - 9})
        if "reflection" in codes:
            marks.append({"i": i, "kind": "r-complex" if "r-complex" in codes else "r-simple", "x": cx, "y": y - 9})
        if "ct-change" in codes:
            marks.append({"i": i, "kind": "ct-change", "x": cx, "y": y + lane_h + 9})
        if "ct-sustain" in codes:
            marks.append({"i": i, "kind": "ct-sustain", "x": cx, "y": y + lane_h + 9})
        if "adherent" in codes:
            marks.append({"i": i, "kind": "adherent", "x": cx, "y": y + lane_h + 9})
        if "non-adherent" in codes:
            marks.append({"i": i, "kind": "non-adherent", "x": cx, "y": y + lane_h + 9})
    ticks = []
    if timed:
        total = t1 - t0
        step = next((s for s in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600) if total / s <= 10), 3600)
        t = 0.0
        while t <= t1 + 1e-9:
            ticks.append({"x": round(left + (t - t0) * scale, 2), "label": clock(t)})
            t += step
    else:
        step = max(1, math.ceil(len(rows) / 10))
        for k in range(0, len(rows) + 1, step):
            ticks.append({"x": round(left + k * scale, 2), "label": f"#{k + 1}" if k < len(rows) else ""})
    return {"width": width, "height": 135.0, "bars": bars, "marks": marks, "ticks": ticks, "timed": timed,
            "lanes": lanes, "lane_h": lane_h, "axis_y": 122.0, "left": left}


# --------------------------------------------------------------------------- session facts

def session_date(session) -> tuple[datetime, str]:
    """When the session took place, and how that is known.

    ``recorded_at`` when the pipeline set it; else the original recording's
    modification time when the source is a reachable audio file (``process``);
    else now, the time of coding (``code``).
    """
    recorded = getattr(session, "recorded_at", None)
    if recorded is not None:
        if isinstance(recorded, str):
            recorded = datetime.fromisoformat(recorded)
        if isinstance(recorded, (int, float)):
            recorded = datetime.fromtimestamp(recorded, tz=timezone.utc)
        return (recorded if recorded.tzinfo else recorded.astimezone()), "recorded"
    source = Path(str(session.source or ""))
    if source.suffix.lower() in AUDIO_SUFFIXES:
        try:
            return datetime.fromtimestamp(source.stat().st_mtime).astimezone(), "recording file date"
        except OSError:
            pass
    return datetime.now().astimezone(), "coded"


def session_duration(session) -> float | None:
    if session.duration_seconds:
        return float(session.duration_seconds)
    frame = session.utterances
    if len(frame) and {"start", "end"} <= set(frame.columns) and frame[["start", "end"]].notna().all(axis=None):
        return float(frame["end"].max())
    return None


def find_recording(source: str | None) -> Path | None:
    """The original recording when it is reachable: the source itself, or an audio file beside a transcript
    with the same name (``s1.csv`` -> ``s1.wav``; ``s1.truth.csv`` -> ``s1.mp3``)."""
    if not source:
        return None
    path = Path(source)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        return path if path.is_file() else None
    stems = {path.stem, path.stem.split(".")[0]}
    for stem in stems:
        for suffix in AUDIO_SUFFIXES:
            candidate = path.with_name(stem + suffix)
            if candidate.is_file():
                return candidate
    return None


def recording_url(recording: Path | None, report_dir: Path | None) -> str | None:
    """A URL for the report's audio player: relative to the report's folder when known, else ``file:``."""
    if recording is None:
        return None
    recording = recording.resolve()
    if report_dir is not None:
        try:
            relative = os.path.relpath(recording, Path(report_dir).resolve())
            return "/".join(_quote(part) for part in Path(relative).parts)
        except ValueError:  # another drive on Windows
            pass
    return recording.as_uri()


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(part)
