import math

import pandas as pd
import pytest

from mifidelity.metrics import (EXPECTED_HEADLINE, THRESHOLDS, assess, compute_metrics, expected_metrics, headline_metrics,
                               overall_verdict)


def frame(rows):
    columns = ["start", "end", "role", "main_behaviour", "question", "reflection", "giving_information", "client_talk"]
    return pd.DataFrame(rows, columns=columns)


def coach(q="none", r="none", gi=False, start=0.0, end=1.0):
    mb = "question" if q != "none" else "reflection" if r != "none" else "input" if gi else "other"
    return [start, end, "coach", mb, q, r, gi, None]


def client(talk, start=0.0, end=1.0):
    return [start, end, "client", None, None, None, None, talk]


def separate_volleys(rows):
    """Each coach row its own volley: a client's "mm" (no timing, neutral) between coach rows."""
    out = []
    for row in rows:
        if out and row[2] == "coach" and out[-1][2] == "coach":
            out.append(client("neutral", start=0.0, end=0.0))
        out.append(row)
    return out


def test_counts_and_ratios():
    rows = [coach(q="open", end=2), coach(q="closed"), coach(r="simple"), coach(r="complex"),
            coach(r="complex"), coach(gi=True), client("change", end=3), client("change"),
            client("sustain"), client("neutral")]
    m = compute_metrics(frame(separate_volleys(rows)), duration_seconds=120)
    assert (m.questions, m.open_questions, m.closed_questions) == (2, 1, 1)
    assert (m.reflections, m.simple_reflections, m.complex_reflections) == (3, 1, 2)
    assert m.giving_information == 1
    assert (m.change_talk, m.sustain_talk, m.neutral_talk) == (2, 1, 1 + 5)
    assert m.reflection_to_question == 1.5
    assert m.pct_complex_reflections == pytest.approx(66.667, abs=1e-3)
    assert m.pct_open_questions == 50.0
    assert m.pct_change_talk == pytest.approx(66.667, abs=1e-3)
    assert m.change_talk_per_minute == 1.0
    # coach spoke 2+1+1+1+1+1 = 7 s, client 3+1+1+1 = 6 s
    assert m.coach_talk_share == pytest.approx(7 / 13, abs=1e-3)


def test_no_questions_gives_null_not_error():
    m = compute_metrics(frame([coach(r="simple"), client("neutral")]))
    assert m.reflection_to_question is None and m.pct_open_questions is None
    assert m.pct_change_talk is None
    ratings = assess(m).set_index("metric")["rating"]
    assert ratings["reflection_to_question"] == "not computable"


def test_no_times_gives_null_talk_share():
    rows = [coach(q="open"), client("change")]
    df = frame(rows)
    df["start"] = math.nan
    df["end"] = math.nan
    m = compute_metrics(df)
    assert m.coach_talk_share is None and m.change_talk_per_minute is None


def test_miti_thresholds():
    good = compute_metrics(frame(separate_volleys([coach(q="open")] + [coach(r="complex")] * 2)))
    fair = compute_metrics(frame(separate_volleys(
        [coach(q="open"), coach(r="complex"), coach(r="simple"), coach(r="simple")] + [coach(q="open")])))
    low = compute_metrics(frame(separate_volleys([coach(q="open")] * 3 + [coach(r="simple")])))
    rating = lambda m: assess(m).set_index("metric")["rating"]
    assert rating(good)["reflection_to_question"] == "good"
    assert rating(fair)["reflection_to_question"] == "fair"  # 3 reflections / 2 questions = 1.5
    assert rating(fair)["pct_complex_reflections"] == "below fair"  # 1 of 3
    assert rating(low)["reflection_to_question"] == "below fair"
    assert rating(low)["pct_complex_reflections"] == "below fair"
    assert "good" in overall_verdict(assess(good))
    assert "below" in overall_verdict(assess(low))


def with_probabilities(df):
    df["probability_open_question"] = [0.9, None, 0.1, None, 0.2]
    df["probability_closed_question"] = [0.1, None, 0.0, None, 0.2]
    df["probability_simple_reflection"] = [0.0, None, 0.6, None, 0.3]
    df["probability_complex_reflection"] = [0.0, None, 0.3, None, 0.0]
    df["probability_change_talk"] = [None, 0.8, None, 0.3, None]
    df["probability_sustain_talk"] = [None, 0.1, None, 0.6, None]
    return df


def test_expected_metrics_sum_probabilities():
    df = frame([coach(q="open"), client("change"), coach(r="simple"), client("sustain"), coach()])
    assert expected_metrics(df) is None  # codes without probabilities (hand codes, rule coder)
    e = expected_metrics(with_probabilities(df))
    assert e["questions"] == 1.5 and e["open_questions"] == 1.2 and e["reflections"] == 1.2
    assert e["reflection_to_question"] == pytest.approx(1.2 / 1.5, abs=1e-3)
    assert e["pct_complex_reflections"] == pytest.approx(25.0, abs=1e-3)
    assert e["pct_open_questions"] == pytest.approx(80.0, abs=1e-3)
    assert e["pct_change_talk"] == pytest.approx(1.1 / 1.8 * 100, abs=1e-3)
    df["probability_open_question"] = df["probability_closed_question"] = [0.05, None, 0.05, None, 0.05]
    assert expected_metrics(df)["reflection_to_question"] is None  # 0.3 expected questions: too few


def test_headline_metrics_take_the_expected_value_only_where_it_is_the_closer_one():
    df = with_probabilities(frame([coach(q="open"), client("change"), coach(r="simple"), client("sustain"), coach()]))
    counted, expected = compute_metrics(df), expected_metrics(df)
    shown = headline_metrics(counted, expected)
    assert set(EXPECTED_HEADLINE) <= {t.metric for t in THRESHOLDS} & set(expected)
    for name in EXPECTED_HEADLINE:
        assert getattr(shown, name) == expected[name] != getattr(counted, name)
    assert shown.counted_values == {name: getattr(counted, name) for name in EXPECTED_HEADLINE}
    assert shown.pct_open_questions == pytest.approx(80.0) and shown.counted_values["pct_open_questions"] == 100.0
    # R:Q and % complex reflections stay counted, and so do all the counts.
    assert (shown.reflection_to_question, shown.pct_complex_reflections) == (1.0, 0.0)
    assert (shown.questions, shown.open_questions, shown.change_talk, shown.sustain_talk) == (1, 1, 1, 1)
    assert headline_metrics(counted, None) == counted and counted.counted_values is None  # hand codes: all counted
    # Where the expected denominator is too small for a value, the counted value stays, and is not listed twice.
    partial = headline_metrics(counted, {**expected, "pct_open_questions": None})
    assert partial.pct_open_questions == counted.pct_open_questions
    assert set(partial.counted_values) == set(EXPECTED_HEADLINE) - {"pct_open_questions"}


def test_one_question_and_one_reflection_per_volley():
    """MITI 4.2.1: a coach volley counts at most one question and one reflection, complex if any is."""
    rows = [coach(q="closed"), coach(q="open"), coach(r="simple"), coach(r="complex"), coach(gi=True),
            coach(gi=True), client("neutral"), coach(r="simple"), coach(r="simple"), client("change")]
    m = compute_metrics(frame(rows))
    assert (m.questions, m.open_questions, m.closed_questions) == (1, 1, 0)
    assert (m.reflections, m.simple_reflections, m.complex_reflections) == (2, 1, 1)
    assert m.giving_information == 1
    assert m.affirm is None and m.mi_adherent is None  # no adherence codes given


def test_adherence_counts_once_per_volley():
    df = frame([coach(q="open"), coach(), client("neutral"), coach(), client("change"), coach(), coach(), coach()])
    df["adherence"] = ["seeking_collaboration", "affirm", None, "persuade", None, "confront", "persuade",
                       "persuade_with_permission"]
    m = compute_metrics(df)
    assert (m.affirm, m.seeking_collaboration, m.emphasizing_autonomy) == (1, 1, 0)
    assert (m.persuade, m.persuade_with_permission, m.confront) == (2, 1, 1)
    assert m.mi_adherent == 2
    assert m.mi_non_adherent == 3  # persuade + confront; with permission counts in neither


def test_expected_metrics_count_a_volley_once():
    df = frame([coach(q="open"), coach(q="open"), client("neutral")])
    df["probability_open_question"] = [0.5, 0.5, None]
    df["probability_closed_question"] = [0.0, 0.0, None]
    for column in ("probability_simple_reflection", "probability_complex_reflection"):
        df[column] = [0.0, 0.0, None]
    df["probability_change_talk"] = df["probability_sustain_talk"] = [None, None, 0.0]
    assert expected_metrics(df)["questions"] == 0.75  # 1 - 0.5 * 0.5, not 1.0


def test_a_client_backchannel_does_not_end_the_coach_volley():
    """Issue 18: "mm-hmm" while the coach talks takes no floor, so the coach's turn stays one volley."""
    rows = [coach(r="simple"), client("neutral"), coach(r="complex"), client("change")]
    as_turn = compute_metrics(frame(rows))
    assert as_turn.reflections == 2   # the "mm-hmm" as a turn of its own: two volleys
    heard = frame(rows).assign(backchannel=[False, True, False, False])
    m = compute_metrics(heard)
    assert (m.reflections, m.simple_reflections, m.complex_reflections) == (1, 0, 1)
    assert m.neutral_talk == 1   # still client talk, counted as neutral


def test_backchannel_column_as_read_back_from_csv():
    rows = [coach(q="open"), client("neutral"), coach(q="open"), client("change")]
    m = compute_metrics(frame(rows).assign(backchannel=["False", "True", "False", "False"]))
    assert m.questions == 1
