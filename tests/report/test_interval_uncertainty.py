"""Intervals that hold the coder's uncertainty (report.intervals) and the scorecard's "not yet clear"."""

import re
import time

import numpy as np
import pandas as pd
import pytest

from mifidelity.metrics import EXPECTED_HEADLINE, THRESHOLDS, compute_metrics, expected_metrics, headline_metrics
from mifidelity.report import render_session_report
from mifidelity.report.intervals import (
    BOOTSTRAP_ROUNDS, CODER_CALIBRATION, KINDS, Interval, bootstrap_intervals, report_intervals,
)
from mifidelity.report.formatting import format_value
from mifidelity.report.scorecard import NOT_YET_CLEAR, scorecard
from mifidelity.session import CodedSession
from mifidelity.types import StageInfo
from support.reports import coded_session

# Coach outcome -> (question, reflection, probability columns open, closed, complex, simple).
CODES = {"open": ("open", "none"), "closed": ("closed", "none"), "complex": ("none", "complex"),
         "simple": ("none", "simple"), "other": ("none", "none")}
PROBABILITY_ORDER = ("open", "closed", "complex", "simple")


def table(coach: list[tuple[str, dict]], client: list[tuple[str, dict]]) -> pd.DataFrame:
    """Coach and client utterances taking turns: ``(code, {outcome: probability})`` each, with times."""
    rows = []
    for i in range(max(len(coach), len(client))):
        for role, items in (("coach", coach), ("client", client)):
            if i >= len(items):
                continue
            code, probs = items[i]
            row = {"role": role, "speaker": role, "text": "", "question": None, "reflection": None,
                   "giving_information": None, "client_talk": None}
            if role == "coach":
                row["question"], row["reflection"] = CODES[code]
                row["giving_information"] = False
                row.update({f"probability_{k}_{'question' if k in ('open', 'closed') else 'reflection'}":
                            probs.get(k, 0.0) for k in PROBABILITY_ORDER})
                row.update(probability_change_talk=None, probability_sustain_talk=None)
            else:
                row["client_talk"] = code
                row.update(probability_change_talk=probs.get("change", 0.0),
                           probability_sustain_talk=probs.get("sustain", 0.0),
                           **{f"probability_{k}_{'question' if k in ('open', 'closed') else 'reflection'}": None
                              for k in PROBABILITY_ORDER})
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame["start"] = np.arange(len(frame)) * 4.0
    frame["end"] = frame["start"] + 3.0
    return frame


def sure(code: str) -> tuple[str, dict]:
    return code, ({code: 1.0} if code in PROBABILITY_ORDER or code in ("change", "sustain") else {})


def session(reflection_probs: dict | None = None) -> pd.DataFrame:
    """20 questions (12 open), 12 complex and 12 simple reflections, 10 change and 10 sustain statements."""
    coach = [sure("open")] * 12 + [sure("closed")] * 8
    if reflection_probs is None:
        coach += [sure("complex")] * 12 + [sure("simple")] * 12
    else:
        coach += [("complex", reflection_probs)] * 12 + [("simple", reflection_probs)] * 12
    client = [sure("change")] * 10 + [sure("sustain")] * 10 + [sure("neutral")] * 24
    return table(coach, client)


def width(interval: dict) -> float:
    return interval["high"] - interval["low"]


def test_confident_codes_give_a_narrow_interval_around_the_counted_value():
    frame = session()
    intervals = bootstrap_intervals(frame)
    metrics = compute_metrics(frame)
    assert metrics.pct_complex_reflections == 50.0
    cr = intervals["pct_complex_reflections"]
    assert cr["kind"] == "coder" and cr["kind_label"] == KINDS["coder"] and cr["basis"] == 24
    assert cr["low"] <= 50.0 <= cr["high"]
    # certain codes: the only doubt left is sampling, the same as with the codes taken as given
    sampling = bootstrap_intervals(frame, coder=False)["pct_complex_reflections"]
    assert abs(width(cr) - width(sampling)) < 8


def test_uncertain_codes_widen_the_interval_to_hold_another_coding():
    confident = bootstrap_intervals(session())["pct_complex_reflections"]
    unsure = bootstrap_intervals(session({"complex": 0.5, "simple": 0.5}))["pct_complex_reflections"]
    assert width(unsure) > width(confident) + 10
    # another coder calling 20 of the 24 reflections complex: 83%, beyond the confident interval only
    alternative = 100 * 20 / 24
    assert not confident["low"] <= alternative <= confident["high"]
    assert unsure["low"] <= alternative <= unsure["high"] or unsure["high"] >= 75.0
    # the counts it rests on are the counted codes, not the probabilities
    assert unsure["basis"] == 24 and unsure["basis_label"] == "reflections"


def test_question_or_reflection_doubt_moves_reflections_per_question():
    confident = bootstrap_intervals(pd.concat([session()] * 5, ignore_index=True))["reflection_to_question"]
    unsure = bootstrap_intervals(pd.concat([session({"complex": 0.4, "simple": 0.4, "open": 0.1, "closed": 0.1})] * 5,
                                           ignore_index=True))
    # 100 questions, 120 reflections (R:Q 1.2); another coder hearing 24 of the reflections as questions: 96 / 124
    alternative = 96 / 124
    assert confident["low"] <= 1.2 <= confident["high"] and not confident["low"] <= alternative <= confident["high"]
    assert unsure["reflection_to_question"]["low"] <= alternative <= unsure["reflection_to_question"]["high"]
    assert unsure["pct_open_questions"]["kind"] == "coder"


def test_client_talk_doubt_widens_change_talk():
    sure_frame = pd.concat([session()] * 5, ignore_index=True)  # 50 change, 50 sustain statements
    unsure = sure_frame.copy()
    for talk, change in (("change", 0.6), ("sustain", 0.4)):
        rows = (unsure["role"] == "client") & (unsure["client_talk"] == talk)
        unsure.loc[rows, "probability_change_talk"] = change
        unsure.loc[rows, "probability_sustain_talk"] = 1.0 - change
    sure_ct, unsure_ct = bootstrap_intervals(sure_frame)["pct_change_talk"], bootstrap_intervals(unsure)["pct_change_talk"]
    assert sure_ct["low"] <= 50.0 <= sure_ct["high"] and unsure_ct["low"] <= 50.0 <= unsure_ct["high"]
    assert width(unsure_ct) > width(sure_ct) + 4


def test_a_session_wide_tilt_widens_even_many_independent_utterances():
    frame = pd.concat([session({"complex": 0.6, "simple": 0.4})] * 10, ignore_index=True)
    independent = bootstrap_intervals(frame, calibration={"complex_simple_sd": 0.0})["pct_complex_reflections"]
    tilted = bootstrap_intervals(frame, calibration={"complex_simple_sd": 1.0})["pct_complex_reflections"]
    assert width(tilted) > width(independent) + 5
    with pytest.raises(ValueError):
        bootstrap_intervals(frame, calibration={"complex_simpel_sd": 1.0})


def test_codes_are_counted_per_coach_volley():
    # two reflections in one coach volley count once (MITI), so R:Q is 1 question : 1 reflection per volley
    coach_rows = []
    for _ in range(10):
        coach_rows += [{"role": "coach", "question": "none", "reflection": "simple", "giving_information": False},
                       {"role": "coach", "question": "none", "reflection": "simple", "giving_information": False},
                       {"role": "coach", "question": "open", "reflection": "none", "giving_information": False},
                       {"role": "client", "question": None, "reflection": None, "giving_information": None,
                        "client_talk": "neutral"}]
    frame = pd.DataFrame(coach_rows)
    assert compute_metrics(frame).reflection_to_question == 1.0
    rq = bootstrap_intervals(frame)["reflection_to_question"]
    assert rq["kind"] == "sampling" and rq["low"] == rq["high"] == 1.0 and rq["basis"] == 10


def test_without_probability_columns_the_interval_is_sampling_only():
    frame = session().drop(columns=[c for c in session().columns if c.startswith("probability_")])
    intervals = bootstrap_intervals(frame)
    assert {i["kind"] for i in intervals.values()} == {"sampling"}
    assert intervals["pct_open_questions"]["kind_label"] == KINDS["sampling"]
    assert bootstrap_intervals(session(), coder=False)["pct_open_questions"]["kind"] == "sampling"
    # the coach's share of talk time has no codes: always sampling
    assert bootstrap_intervals(session())["coach_talk_share"]["kind"] == "sampling"
    assert {"low", "high", "basis", "basis_label"} <= set(intervals["reflection_to_question"])


def test_deterministic_and_seeded():
    frame = session({"complex": 0.5, "simple": 0.5})
    assert bootstrap_intervals(frame) == bootstrap_intervals(frame)
    assert bootstrap_intervals(frame, seed=1) != bootstrap_intervals(frame, seed=2)


def test_nothing_to_count_gives_no_interval():
    frame = table([], [sure("neutral")])
    intervals = bootstrap_intervals(frame)
    assert intervals["reflection_to_question"]["low"] is None and intervals["pct_change_talk"]["high"] is None


def test_a_sixty_minute_session_takes_well_under_a_second():
    rng = np.random.default_rng(0)
    coach = [(c, dict(zip(PROBABILITY_ORDER, rng.dirichlet([1, 1, 1, 1, 2])[:4])))
             for c in rng.choice(list(CODES), 500)]
    client = [(c, {"change": 0.3, "sustain": 0.2}) for c in rng.choice(["change", "sustain", "neutral"], 400)]
    frame = table(coach, client)
    bootstrap_intervals(frame)
    best = min(_timed(bootstrap_intervals, frame) for _ in range(3))
    assert best < 1.0


def _timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------ scorecard

def _metrics(rq: float):
    frame = session()
    metrics = compute_metrics(frame)
    metrics.reflection_to_question = rq
    return metrics


def _card(cards, metric="reflection_to_question"):
    return next(c for c in cards if c.metric == metric)


def _interval(low, high, basis=20, basis_label="questions", kind="coder") -> Interval:
    return Interval(low=low, high=high, basis=basis, basis_label=basis_label, kind=kind, kind_label=KINDS[kind],
                    rounds=BOOTSTRAP_ROUNDS)


@pytest.mark.parametrize("value, low, high, expected, spans", [
    (1.5, 1.2, 1.8, "fair", ()),  # inside the fair band
    (1.5, 0.8, 1.8, NOT_YET_CLEAR, ("below fair", "fair")),  # reaches below fair = 1
    (1.9, 1.6, 2.4, NOT_YET_CLEAR, ("fair", "good")),  # reaches above good = 2
    (1.5, 0.5, 2.5, NOT_YET_CLEAR, ("below fair", "fair", "good")),
    (2.5, 2.1, 3.0, "good", ()),
    (0.5, 0.2, 0.9, "below fair", ()),
    (2.1, 1.5, 1.9, NOT_YET_CLEAR, ("fair", "good")),  # the counted value outside its interval counts too
])
def test_not_yet_clear_exactly_when_the_interval_straddles_a_threshold(value, low, high, expected, spans):
    card = _card(scorecard(_metrics(value), {"reflection_to_question": _interval(low, high)}))
    assert card.rating == expected and card.spans == spans
    assert card.counted_rating != NOT_YET_CLEAR
    if expected == NOT_YET_CLEAR:
        assert f"reaches from {spans[0]} to {spans[-1]}" in card.uncertainty and card.warn
        assert card.counted_rating in card.uncertainty
    else:
        assert "spans" not in card.uncertainty and not card.warn
        assert card.rating_cls == {"good": "good", "fair": "fair", "below fair": "below"}[expected]


def test_a_card_gives_the_other_estimate_beside_its_value():
    coach = [("open", {"open": 0.6, "closed": 0.4})] * 12 + [("closed", {"open": 0.3, "closed": 0.7})] * 8 \
        + [("complex", {"complex": 0.7, "simple": 0.2})] * 12 + [sure("simple")] * 12
    client = [("change", {"change": 0.7, "sustain": 0.2})] * 10 + [sure("sustain")] * 10 + [sure("neutral")] * 24
    frame = table(coach, client)
    counted, expected = compute_metrics(frame), expected_metrics(frame)
    assert (counted.pct_open_questions, expected["pct_open_questions"]) == (60.0, 48.0)
    metrics = headline_metrics(counted, expected)
    cards = {card.metric: card for card in scorecard(metrics, {}, expected)}
    for name in EXPECTED_HEADLINE:
        # The value is the expected one and the counted one is beside it (not the expected one twice).
        card = cards[name]
        assert card.value == expected[name] and card.expected is None
        assert card.counted == format_value(name, getattr(counted, name)) != card.shown
    for name in ("reflection_to_question", "pct_complex_reflections"):
        card = cards[name]
        assert card.value == getattr(counted, name) and card.counted is None
        assert card.expected == format_value(name, expected[name])
    assert cards["pct_open_questions"].rating == "below fair"  # 48%, where the counted 60% would be fair
    wide = {name: _interval(30.0, 75.0, basis_label="questions") for name in ("pct_open_questions", "pct_complex_reflections")}
    for card in scorecard(metrics, wide, expected):
        if card.metric in wide:  # the sentence names which value's band it gives
            said = "the weighted value is" if card.metric in EXPECTED_HEADLINE else "the counted value is"
            assert card.rating == NOT_YET_CLEAR and said in card.uncertainty
    html = render_session_report(CodedSession(
        session_id="s", source="/nowhere/s.csv", duration_seconds=None, utterances=frame, metrics=metrics,
        models={"coding": StageInfo("test", "probabilities", "0")}, timings={}, expected_metrics=expected))
    card_html = re.search(r'data-metric="pct_open_questions">.*?(?=data-metric=|</section>)', html, re.S).group(0)
    assert "48%" in card_html and "counted from the codes: 60%" in card_html
    assert "Weighted by the coder's confidence: " in html  # on the cards whose value is counted


def test_no_threshold_no_interval_or_no_value_keeps_the_rating():
    cards = scorecard(_metrics(1.5), {"pct_change_talk": _interval(10.0, 90.0, basis_label="x")})
    assert _card(cards, "pct_change_talk").rating == "for information"  # no MITI threshold to straddle
    assert _card(cards).rating == "fair"  # no interval given
    metrics = _metrics(1.5)
    metrics.reflection_to_question = None
    card = _card(scorecard(metrics, {"reflection_to_question": _interval(0.5, 2.5, basis=0)}))
    assert card.rating == "not computable"


def test_report_shows_not_yet_clear_and_the_kind_of_interval():
    few = coded_session([("coach", "What?", "open"), ("client", "I want to.", "change"),
                         ("coach", "You want to.", "simple"), ("client", "Yes.", "neutral"),
                         ("coach", "So?", "closed"), ("client", "I'll try.", "change"),
                         ("coach", "You will try.", "complex")])
    html = render_session_report(few)
    cards = scorecard(few.metrics, report_intervals(few.utterances))
    unclear = [c for c in cards if c.rating == NOT_YET_CLEAR]
    assert unclear  # 2 questions, 2 reflections: every threshold is within reach
    for card in unclear:
        head = re.search(rf'data-metric="{card.metric}">\s*<div class="head">.*?</div>', html).group(0)
        assert f'<span class="rating none">{NOT_YET_CLEAR}</span>' in head
    clear = [c for c in cards if c.rating != NOT_YET_CLEAR]
    for card in clear:
        head = re.search(rf'data-metric="{card.metric}">\s*<div class="head">.*?</div>', html).group(0)
        assert NOT_YET_CLEAR not in head
    assert "codes taken as given" in html  # hand codes: no probabilities, sampling only
    assert THRESHOLDS  # the bands come from the one threshold table


# ------------------------------------------------------------------------------------ coverage benchmark

def test_benchmark_chooses_the_narrowest_calibration_that_reaches_the_target():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import interval_coverage as bench

    rows_by_setting = {}
    for t, sd in bench.GRID:
        rows = []
        for transcript in range(20):
            for metric in bench.METRICS:
                # coverage grows with sd (and does not depend on the temperature); width too
                covered = transcript < {0.0: 12, 0.25: 16, 0.5: 19}.get(sd, 20)
                rows.append({"transcript_id": transcript, "version": "clean", "metric": metric, "covered": covered,
                             "width": 1.0 + sd + (t - 1.0), "holds_counted": True, "judged": True,
                             "long": False})
        rows_by_setting[(t, sd)] = pd.DataFrame(rows)
    chosen = bench.choose(rows_by_setting, set(range(20)), target=0.95)
    assert chosen["coach_temperature"] == 1.0 and chosen["client_temperature"] == 1.0
    assert {chosen[bench.TILT[m]] for m in bench.METRICS} == {0.5}  # 19/20 covered: the first sd reaching 95%
    assert set(chosen) == set(CODER_CALIBRATION)
    # the old interval, kept for comparison: utterances resampled, codes fixed
    old = bench.legacy_intervals(session(), rounds=200)
    assert old["pct_complex_reflections"]["low"] <= 50.0 <= old["pct_complex_reflections"]["high"]
