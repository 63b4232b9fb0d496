"""How the report and the overview show numbers, times, ratings and thresholds (one home for each)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mifidelity.metrics import Threshold


@dataclass(frozen=True)
class AxisTick:
    """A labelled mark on a plot's axis: ``x`` in the plot's units (percent of a bar, SVG user units)."""

    x: float
    label: str


# The smallest top of a ratio metric's axis (reflections per question): room for MITI's 'good' level.
RATIO_AXIS_MIN_TOP = 3.0


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


def rating_class(rating: str) -> str:
    """The CSS class of a rating (``good``, ``fair``, ``below``; ``none`` for the rest)."""
    return {"good": "good", "fair": "fair", "below fair": "below"}.get(rating, "none")


def threshold_text(threshold: Threshold) -> str:
    """E.g. ``fair ≥ 40%, good ≥ 50%``, from the threshold table."""
    unit = "%" if threshold.metric.startswith("pct_") else ""
    return f"fair ≥ {threshold.fair:g}{unit}, good ≥ {threshold.good:g}{unit}"


def axis_max(metric: str, values) -> float:
    """The top of a metric's axis: 100% for percentages, 1 for a share, else the next whole number above the values."""
    if metric == "coach_talk_share":
        return 1.0
    if metric.startswith("pct_"):
        return 100.0
    return float(math.ceil(max([RATIO_AXIS_MIN_TOP, *values])))
