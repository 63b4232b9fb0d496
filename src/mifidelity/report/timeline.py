"""The report's timeline: who spoke when, with code markers (geometry for an inline SVG)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mifidelity.report.codes import TAG_LABELS, row_value, utterance_codes
from mifidelity.report.formatting import AxisTick, clock

# The y of each role's lane (SVG user units); anything but the coach goes in the client's.
LANES = {"coach": 30.0, "client": 80.0}


@dataclass(frozen=True)
class TimelineBar:
    """One utterance as a bar in its role's lane; ``i`` is its row, ``label`` its tooltip."""

    i: int
    x: float
    y: float
    w: float
    h: float
    role: str
    label: str


@dataclass(frozen=True)
class TimelineMark:
    """A code marker above (questions, reflections) or below (talk, adherence) an utterance's bar."""

    i: int
    kind: str  # q-open, q-closed, r-complex, r-simple, ct-change, ct-sustain, adherent, non-adherent
    x: float
    y: float


@dataclass(frozen=True)
class Timeline:
    """Geometry of the who-spoke-when plot (SVG user units)."""

    width: float
    height: float
    bars: tuple[TimelineBar, ...]
    marks: tuple[TimelineMark, ...]
    ticks: tuple[AxisTick, ...]
    timed: bool  # False: x is the utterances' order (the transcript had no times)
    lanes: dict[str, float]  # role -> y of its lane
    lane_h: float
    axis_y: float
    left: float


def timeline(rows: list[dict], width: float = 1000.0) -> Timeline:
    """Geometry of the who-spoke-when plot (SVG user units) with code markers.

    Uses the utterances' times when every utterance has them, else their order.
    """
    timed = bool(rows) and all(row_value(r, "start") is not None and row_value(r, "end") is not None for r in rows)
    left, right = 70.0, 10.0
    span_w = width - left - right
    if timed:
        t0 = 0.0
        t1 = max(float(r["end"]) for r in rows) or 1.0
    else:
        t0, t1 = 0.0, float(max(len(rows), 1))
    scale = span_w / (t1 - t0 if t1 > t0 else 1.0)
    lanes = LANES
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
        bars.append(TimelineBar(i, round(x, 2), y, round(w, 2), lane_h, role,
                                f"{clock(row.get('start')) or '#' + str(i + 1)} {role}: "
                                + (", ".join(TAG_LABELS.get(c, c) for c in codes if c in TAG_LABELS) or "no code")))
        cx = round(x + w / 2, 2)
        if "question" in codes:  # not a column: the report's tag (report.codes.utterance_codes)
            marks.append(TimelineMark(i, "q-open" if "q-open" in codes else "q-closed", cx, y - 9))
        if "reflection" in codes:  # not a column: the report's tag
            marks.append(TimelineMark(i, "r-complex" if "r-complex" in codes else "r-simple", cx, y - 9))
        for kind in ("ct-change", "ct-sustain", "adherent", "non-adherent"):
            if kind in codes:
                marks.append(TimelineMark(i, kind, cx, y + lane_h + 9))
    ticks = []
    if timed:
        total = t1 - t0
        step = next((s for s in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600) if total / s <= 10), 3600)
        t = 0.0
        while t <= t1 + 1e-9:
            ticks.append(AxisTick(round(left + (t - t0) * scale, 2), clock(t)))
            t += step
    else:
        step = max(1, math.ceil(len(rows) / 10))
        for k in range(0, len(rows) + 1, step):
            ticks.append(AxisTick(round(left + k * scale, 2), f"#{k + 1}" if k < len(rows) else ""))
    return Timeline(width=width, height=135.0, bars=tuple(bars), marks=tuple(marks), ticks=tuple(ticks), timed=timed,
                    lanes=dict(lanes), lane_h=lane_h, axis_y=122.0, left=left)
