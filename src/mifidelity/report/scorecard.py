"""The report's scorecard: one card per headline metric of :data:`mifidelity.metrics.THRESHOLDS`."""

from __future__ import annotations

from dataclasses import dataclass

from mifidelity.metrics import THRESHOLDS, SessionMetrics, Threshold, rate, verdict_sentence
from mifidelity.report.formatting import AxisTick, axis_max, format_value, rating_class
from mifidelity.report.intervals import Interval

# Below this many items in a ratio's denominator (e.g. questions) the card says the session is too short to judge.
MIN_BASIS = 5


@dataclass(frozen=True)
class BandZone:
    """One rating band of a card's bar: CSS class, left edge and width (percent of the bar), name."""

    cls: str
    x: float
    w: float
    label: str


@dataclass(frozen=True)
class CardBand:
    """Geometry of a card's bar, in percent of its width: rating bands, threshold ticks, value and interval."""

    zones: tuple[BandZone, ...]
    ticks: tuple[AxisTick, ...]
    value: float | None
    low: float | None
    high: float | None
    min_label: str
    max_label: str


@dataclass(frozen=True)
class ScoreCard:
    """One headline metric of the scorecard (see :func:`scorecard`)."""

    metric: str
    label: str
    value: float | None
    shown: str  # the value as the report writes it
    low: float | None  # the 95% interval (None: none)
    high: float | None
    rating: str  # the band of ``value`` (counted, or weighted where ``counted`` is set), or NOT_YET_CLEAR
    rating_cls: str
    counted_rating: str  # the band of ``value`` itself, whatever the interval says
    spans: tuple[str, ...]  # the bands the interval reaches, when more than one
    interval_kind: str | None  # "coder" or "sampling" (intervals.KINDS)
    source: str
    meaning: str
    verdict: str
    uncertainty: str  # what the interval and the basis say, in words ("" when nothing to say)
    warn: bool
    band: CardBand
    expected: str | None  # the estimate from the coder's summed probabilities, as shown, where ``value`` is counted
    counted: str | None  # the value counted from the codes, as shown, where ``value`` is the expected one


def _band(threshold: Threshold, value: float | None, low: float | None, high: float | None) -> CardBand:
    """Geometry (percent of the bar's width) of a metric's rating band, value and interval."""
    top = axis_max(threshold.metric, [value or 0.0, high or 0.0])
    pos = lambda v: None if v is None else max(0.0, min(100.0, 100.0 * v / top))  # noqa: E731
    if threshold.fair is None:
        zones = (BandZone("info", 0.0, 100.0, ""),)
    elif threshold.higher_is_better:
        zones = (
            BandZone("below", 0.0, pos(threshold.fair), "below fair"),
            BandZone("fair", pos(threshold.fair), pos(threshold.good) - pos(threshold.fair), "fair"),
            BandZone("good", pos(threshold.good), 100.0 - pos(threshold.good), "good"),
        )
    else:
        zones = (
            BandZone("good", 0.0, pos(threshold.good), "good"),
            BandZone("fair", pos(threshold.good), pos(threshold.fair) - pos(threshold.good), "fair"),
            BandZone("below", pos(threshold.fair), 100.0 - pos(threshold.fair), "below fair"),
        )
    ticks = tuple(AxisTick(pos(t), format_value(threshold.metric, t))
                  for t in (threshold.fair, threshold.good) if t is not None)
    return CardBand(zones=zones, ticks=ticks, value=pos(value), low=pos(low), high=pos(high),
                    min_label=format_value(threshold.metric, 0.0), max_label=format_value(threshold.metric, top))


# What a card's rating reads when its 95% interval reaches across a fair or good threshold.
NOT_YET_CLEAR = "not yet clear"


def scorecard(metrics: SessionMetrics, intervals: dict[str, Interval], expected: dict | None = None) -> list[ScoreCard]:
    """One card per headline metric: value, rating, interval, band geometry and plain words.

    The rating is the value's band (:func:`mifidelity.metrics.rate`), except where the 95%
    interval (:func:`mifidelity.report.intervals.report_intervals`) reaches across a fair or good
    threshold of :data:`mifidelity.metrics.THRESHOLDS`: then an expert could put the session in another
    band, and the rating reads :data:`NOT_YET_CLEAR` (``counted_rating`` keeps the value's band,
    ``spans`` the bands the interval reaches, and the uncertainty sentence names them).

    ``expected`` (:func:`mifidelity.metrics.expected_metrics`) adds, where it has the metric,
    the estimate from the coder's summed probabilities beside the counted value. Where ``metrics``
    already reports the expected value (:func:`mifidelity.metrics.headline_metrics`), the card adds
    the counted one instead (``metrics.counted_values``).
    """
    counted_values = metrics.counted_values or {}
    cards = []
    for threshold in THRESHOLDS:
        value = getattr(metrics, threshold.metric)
        counted_rating = rate(value, threshold)
        interval = intervals.get(threshold.metric)
        low, high = (interval.low, interval.high) if interval else (None, None)
        spans = _spans(threshold, value, low, high)
        rating = NOT_YET_CLEAR if spans else counted_rating
        uncertainty, warn = "", False
        if value is not None:
            basis = interval.basis if interval else 0
            what = interval.basis_label if interval else ""
            if low is not None:
                uncertainty = f"Based on {basis} {what}."
            if spans:
                uncertainty += (f" The 95% interval reaches from {spans[0]} to {spans[-1]}, so the rating is not yet "
                                f"clear ({'the weighted' if threshold.metric in counted_values else 'the counted'} value "
                                f"is {counted_rating}).")
                warn = True
            if basis < MIN_BASIS and threshold.metric != "coach_talk_share":
                uncertainty = f"Only {basis} {what}: too few to judge the session on." + (
                    f" The 95% interval reaches from {spans[0]} to {spans[-1]}." if spans else "")
                warn = True
        cards.append(ScoreCard(
            metric=threshold.metric,
            label=threshold.label,
            value=value,
            shown=format_value(threshold.metric, value),
            low=low,
            high=high,
            rating=rating,
            rating_cls=rating_class(rating),
            counted_rating=counted_rating,
            spans=spans,
            interval_kind=interval.kind if interval else None,
            source=threshold.source,
            meaning=threshold.meaning,
            verdict=verdict_sentence(threshold, value, counted_rating),
            uncertainty=uncertainty.strip(),
            warn=warn,
            band=_band(threshold, value, low, high),
            expected=None if threshold.metric in counted_values or not expected or expected.get(threshold.metric) is None
            else format_value(threshold.metric, expected[threshold.metric]),
            counted=format_value(threshold.metric, counted_values[threshold.metric])
            if threshold.metric in counted_values else None,
        ))
    return cards


def _spans(threshold: Threshold, value: float | None, low: float | None, high: float | None) -> tuple[str, ...]:
    """The rating bands from the interval's low end to its high end (and the counted value), in order;
    empty when they are all one band."""
    if value is None or low is None or high is None or threshold.fair is None:
        return ()
    bands = _between({rate(v, threshold) for v in (low, high, value)})
    return bands if len(bands) > 1 else ()


def _between(ratings: set[str]) -> tuple[str, ...]:
    order = ("below fair", "fair", "good")
    idx = [order.index(r) for r in ratings if r in order]
    return order[min(idx):max(idx) + 1] if idx else ()
