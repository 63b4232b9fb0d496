"""The supervisor overview: OUT/index.html and OUT/sessions.csv, rebuilt from every OUT/*/session.json.

Both files are owner-only (0600) and replaced atomically (temporary file +
rename), so a reader never sees half a file and two sessions finishing at
once cannot interleave. The overview shows metrics only, never transcript
text. Sessions are listed most in need of supervision first: lowest estimated
probability of good MI first, sessions without an estimate after those with one. Strings from session.json (session ids, coach names) are escaped by
Jinja2's autoescape; in the CSV, cells that a spreadsheet would run as a
formula are prefixed with an apostrophe.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from mifidelity.coding.base import ADHERENCE_LABELS
from mifidelity.fidelity import (
    GLOBAL_NAMES, QUALITY_BANDS, SUMMARY_INDICES, FidelityEstimate, GlobalScores, probability_shown, session_verdict,
)
from mifidelity.files import PRIVATE_DIR_MODE, spreadsheet_safe, write_private_atomic
from mifidelity.metrics import THRESHOLDS, rate
from mifidelity.report.formatting import axis_max, clock, format_value
from mifidelity.report.fidelity_summary import quality_band
from mifidelity.report.templating import content_security_policy, environment, static_script

COACH_COLOURS = ("#3b6fd8", "#c2622d", "#2f9e44", "#7048e8", "#e8590c", "#0c8599", "#d6336c", "#5c940d", "#495057")
TREND_METRICS = ("reflection_to_question", "pct_complex_reflections", "pct_open_questions", "coach_talk_share")
NO_COACH = "(no coach given)"
QUALITY_BAND_LABELS = tuple(label for _, label, _ in QUALITY_BANDS)[::-1] + ("not estimated",)  # likely poor first

CSV_COLUMNS = (
    "session_id", "coach", "date", "duration_seconds", "utterances", "questions", "open_questions",
    "closed_questions", "reflections", "simple_reflections", "complex_reflections", "giving_information",
    "change_talk", "sustain_talk", "neutral_talk", "reflection_to_question", "reflection_to_question_low",
    "reflection_to_question_high", "pct_complex_reflections", "pct_complex_reflections_low",
    "pct_complex_reflections_high", "pct_open_questions", "pct_change_talk", "change_talk_per_minute",
    "coach_talk_share",
    # Estimates (mifidelity.fidelity: the probability and indices 0-100, no MITI band) and adherence counts;
    # empty when not estimated / not coded.
    "mi_quality_probability", "estimated_quality", *SUMMARY_INDICES, *GLOBAL_NAMES, "mi_adherent", "mi_non_adherent", *ADHERENCE_LABELS[1:],
    "rating_reflection_to_question", "rating_pct_complex_reflections", "verdict", "report",
)
_GLOBAL_COLUMNS = (*SUMMARY_INDICES, *GLOBAL_NAMES)
INDEX_LABELS = {"technical": "Technical index", "relational": "Relational index"}


def _date(summary: dict, path: Path) -> datetime:
    for key in ("recorded_at", "created"):
        value = summary.get(key)
        if value:
            try:
                parsed = datetime.fromisoformat(str(value))
                return parsed if parsed.tzinfo else parsed.astimezone()
            except ValueError:
                pass
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone()


def load_sessions(out_dir: str | Path) -> pd.DataFrame:
    """One row per session folder in ``out_dir`` that has a readable session.json, most in need of supervision first.

    The order: sessions with an estimated probability of good MI, lowest first; then
    sessions without an estimate; ties (and sessions without) oldest first.
    """
    out_dir = Path(out_dir)
    records = []
    for path in sorted(out_dir.glob("*/session.json")):
        if path.parent.name.startswith("."):
            continue  # staging, retired and cache folders
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        metrics = summary.get("metrics") or {}
        intervals = summary.get("intervals") or {}
        thresholds = {t.metric: t for t in THRESHOLDS}
        record = {
            "session_id": str(summary.get("session_id") or path.parent.name),
            "coach": summary.get("coach") or "",
            "date": _date(summary, path),
            "duration_seconds": summary.get("duration_seconds") or summary.get("report_duration_seconds"),
            "utterances": summary.get("utterance_count"),
            **{key: metrics.get(key) for key in CSV_COLUMNS if key in metrics},
            "verdict": _verdict(summary),
            "report": f"./{quote(path.parent.name, safe='')}/report.html",
        }
        record.update(_indices(summary.get("globals")))
        record["mi_quality_probability"] = _number(summary.get("mi_quality_probability"))
        record["estimated_quality"] = quality_band(record["mi_quality_probability"])
        for metric in ("reflection_to_question", "pct_complex_reflections"):
            interval = intervals.get(metric) or {}
            record[f"{metric}_low"] = interval.get("low")
            record[f"{metric}_high"] = interval.get("high")
            record[f"rating_{metric}"] = rate(metrics.get(metric), thresholds[metric])
        records.append(record)
    frame = pd.DataFrame(records, columns=list(CSV_COLUMNS))
    if len(frame):
        frame = by_date(frame)
        frame["mi_quality_probability"] = pd.to_numeric(frame["mi_quality_probability"], errors="coerce")
        for column in ("mi_adherent", "mi_non_adherent", *ADHERENCE_LABELS[1:], *_GLOBAL_COLUMNS):  # whole numbers beside blanks
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
        frame = frame.sort_values("mi_quality_probability", kind="stable", na_position="last").reset_index(drop=True)
    return frame


def _indices(scores) -> dict:
    """session.json's ``globals`` as indices 0-100 (``None`` where missing).

    Sessions written before the indices (no ``scale`` key) hold MITI-style 1-5 values that
    were ``1 + 4 * p``: they become ``25 * (value - 1)``, the same index; their ratings are dropped.
    """
    if not isinstance(scores, dict):
        return {key: None for key in _GLOBAL_COLUMNS}
    old = "scale" not in scores
    out = {}
    for key in _GLOBAL_COLUMNS:
        value = _number(scores.get(key))
        if value is not None and old:
            value = 25.0 * (value - 1.0) if 1.0 <= value <= 5.0 else None
        out[key] = None if value is None else int(math.floor(value + 0.5))
    return out


def _verdict(summary: dict) -> str:
    """session.json's verdict; for one written before the indices, rewritten from its own numbers.

    Such a verdict rated the 1-5 globals against MITI's bands ("relational 2.05 (below fair)")
    beside an estimated verdict they could contradict; the same sentence is now made the way
    :func:`mifidelity.fidelity.session_verdict` makes it (indices, and why they may disagree).
    """
    verdict = str(summary.get("verdict") or "")
    scores, probability = summary.get("globals"), _number(summary.get("mi_quality_probability"))
    if not isinstance(scores, dict) or "scale" in scores or probability is None:
        return verdict
    try:
        values = {name: (float(scores[name]) - 1.0) / 4.0 for name in GLOBAL_NAMES}
        estimate = FidelityEstimate(GlobalScores(**values), probability, "")
        return session_verdict(pd.DataFrame(summary["assessment"]), estimate)
    except (KeyError, TypeError, ValueError):
        return verdict


def by_date(frame: pd.DataFrame) -> pd.DataFrame:
    """The sessions oldest first (ties by session id)."""
    return frame.sort_values(["date", "session_id"], kind="stable").reset_index(drop=True)


def _overall(row) -> str:
    ratings = {row["rating_reflection_to_question"], row["rating_pct_complex_reflections"]}
    if "not computable" in ratings:
        return "not computable"
    if ratings == {"good"}:
        return "good"
    if "below fair" in ratings:
        return "below fair"
    return "fair"


def sessions_csv(frame: pd.DataFrame) -> str:
    table = frame.copy()
    table["date"] = table["date"].map(lambda d: d.isoformat(timespec="seconds") if isinstance(d, datetime) else d)
    for column in ("session_id", "coach", "verdict", "report"):
        table[column] = table[column].map(spreadsheet_safe)
    return table.to_csv(index=False)


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


# Date ticks of a trend chart: (step, pandas frequency, label format), the first that gives at most TREND_MAX_TICKS.
DATE_TICK_STEPS = (("day", "D", "%Y-%m-%d"), ("week", "W-MON", "%Y-%m-%d"), ("month", "MS", "%Y-%m"),
                   ("quarter", "QS", "%Y-%m"), ("year", "YS", "%Y"))
TREND_MAX_TICKS = 6
HALF_DAY = 12 * 3600.0


def _date_ticks(t0: float, t1: float, tz) -> list[tuple[float, str]]:
    """Calendar ticks (midnights, Mondays, first days of months...) between two timestamps, at most TREND_MAX_TICKS."""
    start, end = pd.Timestamp(t0, unit="s", tz=tz), pd.Timestamp(t1, unit="s", tz=tz)
    for _, frequency, label in DATE_TICK_STEPS:
        ticks = pd.date_range(start.normalize(), end, freq=frequency)
        ticks = [t for t in ticks if start <= t <= end]
        if len(ticks) <= TREND_MAX_TICKS:
            return [(t.timestamp(), t.strftime(label)) for t in ticks]
    return []


def trend_plot(frame: pd.DataFrame, metric: str, colours: dict[str, str]) -> dict:
    """Geometry of one trend chart: a line per coach over the session dates, with the metric's thresholds.

    The x axis is time, so a month without sessions shows as a gap; sessions on (nearly) one moment
    sit on one day's axis around that moment.
    """
    threshold = next(t for t in THRESHOLDS if t.metric == metric)
    width, height, left, right, top, bottom = 560.0, 220.0, 48.0, 12.0, 14.0, 34.0
    values = [_number(v) for v in frame[metric]]
    known = [v for v in values if v is not None]
    y_max = axis_max(metric, known)
    times = [d.timestamp() for d in frame["date"]]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    if t1 - t0 < HALF_DAY:  # one day at most: show the day around them rather than stretch minutes
        middle = (t0 + t1) / 2
        t0, t1 = middle - HALF_DAY, middle + HALF_DAY
    tz = frame["date"].iloc[0].tzinfo if len(frame) else None

    def x(t):
        return round(left + (width - left - right) * (t - t0) / (t1 - t0), 2)

    def y(v):
        return round(top + (height - top - bottom) * (1 - min(max(v, 0.0), y_max) / y_max), 2)

    series = []
    for coach, colour in colours.items():
        points = [{"x": x(times[i]), "y": y(values[i]), "session": frame["session_id"].iloc[i],
                   "label": f"{frame['session_id'].iloc[i]} ({frame['date'].iloc[i]:%Y-%m-%d}): "
                            f"{format_value(metric, values[i])}", "report": frame["report"].iloc[i]}
                  for i in range(len(frame))
                  if (frame["coach"].iloc[i] or NO_COACH) == coach and values[i] is not None]
        if points:
            series.append({"coach": coach, "colour": colour, "points": points,
                           "path": " ".join(f"{'M' if k == 0 else 'L'}{p['x']} {p['y']}" for k, p in enumerate(points))})
    lines = [{"y": y(t), "label": f"{name} {format_value(metric, t)}"}
             for name, t in (("fair", threshold.fair), ("good", threshold.good)) if t is not None]
    y_ticks = [{"y": y(y_max * k / 4), "label": format_value(metric, y_max * k / 4)} for k in range(5)]
    x_ticks = [{"x": x(t), "label": label} for t, label in _date_ticks(t0, t1, tz)] if len(frame) else []
    if len(frame) and not x_ticks:  # a span inside one day that crosses no midnight: name the day
        x_ticks = [{"x": x((t0 + t1) / 2), "label": frame["date"].iloc[0].strftime("%Y-%m-%d")}]
    for tick in x_ticks:  # labels near an edge grow inwards (about 60 units wide)
        tick["anchor"] = "start" if tick["x"] < left + 30 else "end" if tick["x"] > width - right - 30 else "middle"
    return {"metric": metric, "label": threshold.label, "width": width, "height": height, "left": left,
            "right": width - right, "top": top, "bottom": height - bottom, "series": series, "lines": lines,
            "y_ticks": y_ticks, "x_ticks": x_ticks}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _index(row, name: str) -> dict:
    value = _number(row[name])
    value = None if value is None else int(value)
    return {"value": value, "shown": "–" if value is None else str(value)}


def session_rows(frame: pd.DataFrame, colours: dict[str, str]) -> list[dict]:
    """The overview table's rows (what each cell shows and sorts by), in the frame's order."""
    rows = []
    for _, row in frame.iterrows():
        rows.append({
            "session_id": row["session_id"], "coach": row["coach"] or "", "coach_key": row["coach"] or NO_COACH,
            "colour": colours.get(row["coach"] or NO_COACH), "date": row["date"],
            "duration": clock(_number(row["duration_seconds"])) if _number(row["duration_seconds"]) else "",
            "duration_sort": _number(row["duration_seconds"]),
            "utterances": _number(row["utterances"]),
            "questions": _number(row["questions"]), "reflections": _number(row["reflections"]),
            "metrics": {t.metric: {"value": _number(row[t.metric]), "shown": format_value(t.metric, _number(row[t.metric])),
                                   "rating": rate(_number(row[t.metric]), t)} for t in THRESHOLDS},
            "rq_interval": (_number(row["reflection_to_question_low"]), _number(row["reflection_to_question_high"])),
            "cr_interval": (_number(row["pct_complex_reflections_low"]), _number(row["pct_complex_reflections_high"])),
            "overall": _overall(row), "verdict": row["verdict"], "report": row["report"],
            "quality": {"value": _number(row["mi_quality_probability"]), "band": row["estimated_quality"],
                        "shown": probability_shown(_number(row["mi_quality_probability"]))},
            "globals": {name: _index(row, name) for name in SUMMARY_INDICES},
            "adherent": _number(row["mi_adherent"]), "non_adherent": _number(row["mi_non_adherent"]),
        })
    return rows


def render_overview(frame: pd.DataFrame) -> str:
    """The overview page; rows in the frame's order (see :func:`load_sessions`)."""
    coaches = sorted({c or NO_COACH for c in frame["coach"]}) if len(frame) else []
    in_time = by_date(frame) if len(frame) else frame  # trend lines run through time, whatever the table's order
    colours = {coach: COACH_COLOURS[i % len(COACH_COLOURS)] for i, coach in enumerate(coaches)}
    rows = session_rows(frame, colours)
    per_coach = []
    for coach in coaches:
        mine = [r for r in rows if r["coach_key"] == coach]
        mean = {}
        for metric in TREND_METRICS:
            known = [r["metrics"][metric]["value"] for r in mine if r["metrics"][metric]["value"] is not None]
            mean[metric] = format_value(metric, sum(known) / len(known)) if known else "–"
        quality = [r["quality"]["value"] for r in mine if r["quality"]["value"] is not None]
        relational = [r["globals"]["relational"]["value"] for r in mine if r["globals"]["relational"]["value"] is not None]
        per_coach.append({"coach": coach, "colour": colours[coach], "sessions": len(mine), "mean": mean,
                          "good": sum(r["overall"] == "good" for r in mine),
                          "quality": _percent(sum(quality) / len(quality)) if quality else "–",
                          "relational": f"{sum(relational) / len(relational):.0f}" if relational else "–",
                          "likely_poor": sum(r["quality"]["band"] == "likely poor" for r in mine),
                          "last": max(r["date"] for r in mine)})
    script = static_script("overview.js")
    return environment().get_template("overview.html.j2").render(
        csp=content_security_policy(script), script=script, rows=rows, coaches=coaches, colours=colours,
        per_coach=per_coach, plots=[trend_plot(in_time, m, colours) for m in TREND_METRICS] if len(frame) else [],
        thresholds=THRESHOLDS, index_labels=INDEX_LABELS, bands=QUALITY_BAND_LABELS,
        estimated=any(r["quality"]["value"] is not None for r in rows), generated=datetime.now().astimezone().strftime("%Y-%m-%d %H:%M"),
    )


def write_overview(out_dir: str | Path) -> Path:
    """Rebuild ``out_dir/index.html`` and ``out_dir/sessions.csv`` from every session folder; returns index.html."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    frame = load_sessions(out_dir)
    write_private_atomic(out_dir / "sessions.csv", sessions_csv(frame))
    index = out_dir / "index.html"
    write_private_atomic(index, render_overview(frame))
    return index
