"""How far to trust a session's ratios: 95% intervals that include the coder's own uncertainty.

An interval should contain what an expert coding the same session would count, so it must hold two
kinds of doubt: the coder's (is this utterance a complex or a simple reflection?) and the session's
small numbers (six questions say little about how a coach asks). With the trained coder's probability
columns (:data:`mifidelity.coding.base.PROBABILITY_COLUMNS`) each of :data:`BOOTSTRAP_ROUNDS` rounds

1. draws a plausible coding of the whole session: every coach utterance one of open question, closed
   question, complex reflection, simple reflection or neither, every client utterance change, sustain
   or neutral talk, from the coder's probabilities as calibrated by :data:`CODER_CALIBRATION` (a
   temperature per utterance, and a session-wide tilt for errors the coder makes throughout a session);
2. counts it per coach volley the MITI 4.2.1 way (as :func:`mifidelity.metrics.volley_codes`: at most one
   question and one reflection per volley, open / complex if any is);
3. resamples the coach volleys and the client utterances with replacement;

and the interval is the 2.5th to 97.5th percentile of the ratio over the rounds (``kind`` ``"coder"``).
Tables without probability columns (the rule coder, codes given or corrected by hand) get the same
resampling with the codes fixed (``kind`` ``"sampling"``): it says how much the ratio rests on, not
how sure the codes are. The coach's share of talk time has no codes and is always ``"sampling"``.

Deterministic (fixed seed) and vectorised: a 60-minute session takes about a tenth of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mifidelity.coding.base import CLIENT_TALK_COLUMN, PROBABILITY_COLUMNS, QUESTION_COLUMN, REFLECTION_COLUMN
from mifidelity.metrics import coach_volleys

BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 20240421

# How the coder's probabilities are turned into plausible codings (see benchmarks/interval_coverage.py).
# - ``*_temperature``: each utterance's outcome probabilities are raised to 1 / temperature and
#   renormalised (coach: open question, closed question, complex reflection, simple reflection, neither;
#   client: change, sustain, neutral). 1 leaves them as they are; above 1 an over-confident coder is made
#   less sure of every single utterance.
# - ``*_sd`` (one per pair a metric compares): the coder's errors are not independent: on one session it
#   may call too many reflections complex, on another too few. Each round therefore also draws one
#   session-wide tilt per pair, a normal log-odds shift with this standard deviation applied to every
#   utterance of the session (open against closed questions for % open questions, complex against simple
#   reflections for % complex, reflections against questions for R:Q, change against sustain talk for
#   % change talk). 0 means independent errors only.
# Chosen by benchmarks/interval_coverage.py on AnnoMI (103 transcripts, both text versions) with
# out-of-fold probabilities of the coder version 6 recipe (`python -m mifidelity.training.evaluate
# --folds 5 --save-probabilities`: each fifth coded by a coder trained on the other four, so a little less
# accurate than the shipped coder, and these intervals a little wide for it): per role the temperature,
# and per metric the tilt, with the narrowest intervals among those whose coverage of the experts'
# values reaches 95% (grid: temperature 1, 1.5, 2; sd 0 to 2.5). The same choice made inside 5-fold
# cross-validation by transcript covers 91-97% of held-out sessions per metric and text version
# (docs/report.md, "How far to trust a number"). Checked again with coder version 7's codes: 92-97%
# cross-validated with these settings (its own choice would be R:Q sd 1.0 and open/closed sd 1.25).
CODER_CALIBRATION = {
    "coach_temperature": 1.0,
    "client_temperature": 1.0,
    "open_closed_sd": 1.5,
    "complex_simple_sd": 1.0,
    "reflection_question_sd": 1.25,
    "change_sustain_sd": 1.5,
}

# The two kinds of interval, in words for the report.
KINDS = {
    "coder": "95% interval over the coder's uncertainty about each code and over resampled coach turns",
    "sampling": "95% interval over resampled coach turns (codes taken as given)",
}

# Metric -> (numerator, denominator, scale) over the per-round counts of _round_counts().
_RATIOS = {
    "reflection_to_question": ("reflection", "question", 1.0),
    "pct_complex_reflections": ("complex", "reflection", 100.0),
    "pct_open_questions": ("open", "question", 100.0),
    "pct_change_talk": ("change", "change_or_sustain", 100.0),
}
# What a metric's denominator counts, for "based on N ..." sentences.
_BASIS = {
    "reflection_to_question": "questions",
    "pct_complex_reflections": "reflections",
    "pct_open_questions": "questions",
    "pct_change_talk": "change or sustain talk statements",
    "coach_talk_share": "utterances",
}
# Coach outcomes in draw order, and the client's.
_COACH_OUTCOMES = ("open", "closed", "complex", "simple")  # the fifth is "neither"
_COACH_COLUMNS = ("probability_open_question", "probability_closed_question",
                  "probability_complex_reflection", "probability_simple_reflection")
_CLIENT_COLUMNS = ("probability_change_talk", "probability_sustain_talk")  # the third is neutral
# The pairs a session-wide tilt shifts against each other: calibration key -> +-1/2 weights on the
# outcomes' log-probabilities (coach: open, closed, complex, simple, neither; client: change, sustain, neutral).
_COACH_PAIRS = {
    "open_closed_sd": (0.5, -0.5, 0.0, 0.0, 0.0),
    "complex_simple_sd": (0.0, 0.0, 0.5, -0.5, 0.0),
    "reflection_question_sd": (-0.5, -0.5, 0.5, 0.5, 0.0),
}
_CLIENT_PAIRS = {"change_sustain_sd": (0.5, -0.5, 0.0)}


@dataclass(frozen=True)
class Interval:
    """One metric's 95% interval as the report reads it: an entry of :func:`bootstrap_intervals`."""

    low: float | None  # None when fewer than half of the rounds could compute the metric
    high: float | None
    basis: int  # the metric's counted denominator in the session
    basis_label: str  # what the denominator counts ("questions")
    kind: str  # "coder" or "sampling" (:data:`KINDS`)
    kind_label: str
    rounds: int


def has_probabilities(utterances: pd.DataFrame) -> bool:
    """Whether the table carries the coder's probability columns (then the interval includes the coder's doubt)."""
    return set(PROBABILITY_COLUMNS) <= set(utterances.columns)


def bootstrap_intervals(utterances: pd.DataFrame, rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED,
                        level: float = 0.95, coder: bool | None = None,
                        calibration: dict[str, float] | None = None) -> dict[str, dict]:
    """A 95% interval per ratio metric; with the coder's probabilities it includes the coder's uncertainty.

    Returns ``{metric: {"low", "high", "basis", "basis_label", "kind", "kind_label", "rounds"}}``.
    ``low``/``high`` are ``None`` when fewer than half of the rounds could compute the metric (e.g. no
    question anywhere). ``basis`` is the metric's counted denominator in the session (e.g. the number of
    questions), ``basis_label`` what it counts. ``kind`` is ``"coder"`` (codes drawn from the coder's
    probabilities, and resampling) or ``"sampling"`` (resampling only: no probability columns, or
    ``coder=False``); ``kind_label`` says it in words. ``calibration`` overrides
    :data:`CODER_CALIBRATION` (the coverage benchmark tunes it). Deterministic for a given session.
    """
    use_coder = has_probabilities(utterances) if coder is None else (coder and has_probabilities(utterances))
    kind = "coder" if use_coder else "sampling"
    unknown = set(calibration or {}) - set(CODER_CALIBRATION)
    if unknown:
        raise ValueError(f"unknown calibration settings: {sorted(unknown)} (known: {sorted(CODER_CALIBRATION)})")
    settings = {**CODER_CALIBRATION, **(calibration or {})}
    rng = np.random.default_rng(seed)
    counts, basis = _round_counts(utterances, rounds, rng, use_coder, settings)
    tail = 100 * (1 - level) / 2
    result: dict[str, dict] = {}
    for metric, (num, den, scale) in _RATIOS.items():
        result[metric] = {**_percentiles(counts[num], counts[den], scale, rounds, tail),
                          "basis": int(basis[den]), "basis_label": _BASIS[metric],
                          "kind": kind, "kind_label": KINDS[kind], "rounds": rounds}
    result["coach_talk_share"] = {**_talk_share(utterances, rng, rounds, tail),
                                  "basis": int(len(utterances)), "basis_label": _BASIS["coach_talk_share"],
                                  "kind": "sampling", "kind_label": KINDS["sampling"], "rounds": rounds}
    return result


def report_intervals(utterances: pd.DataFrame) -> dict[str, Interval]:
    """:func:`bootstrap_intervals` of the session, per metric, as the report reads them."""
    return {metric: Interval(**values) for metric, values in bootstrap_intervals(utterances).items()}


def _percentiles(numerators: np.ndarray, denominators: np.ndarray, scale: float, rounds: int, tail: float) -> dict:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = scale * numerators / denominators
    ratios = ratios[np.isfinite(ratios)]
    if len(ratios) < rounds / 2:
        return {"low": None, "high": None}
    low, high = (round(float(v), 3) for v in np.percentile(ratios, [tail, 100 - tail]))
    return {"low": low, "high": high}


def _round_counts(utterances: pd.DataFrame, rounds: int, rng: np.random.Generator, use_coder: bool,
                  settings: dict[str, float]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per round, the counts the ratios are made of (arrays of ``rounds``), and the session's counted denominators."""
    role = utterances["role"].to_numpy() if "role" in utterances else np.array([], dtype=object)
    coach_rows = np.flatnonzero(role == "coach")
    client_rows = np.flatnonzero(role == "client")

    # Coach: per utterance one outcome of open, closed, complex, simple, neither.
    hard_coach = _hard_coach(utterances.iloc[coach_rows])
    if use_coder and len(coach_rows):
        probs = _coach_probabilities(utterances.iloc[coach_rows], hard_coach)
        tilt = _tilts(rng, rounds, settings, _COACH_PAIRS)
        drawn = _draw(rng, _soften(probs, settings["coach_temperature"]), tilt)  # (rounds, n) outcome index
        indicators = {name: drawn == k for k, name in enumerate(_COACH_OUTCOMES)}
    else:
        indicators = {name: hard_coach[:, k][None, :] for k, name in enumerate(_COACH_OUTCOMES)}
    volley = coach_volleys(utterances).to_numpy() if len(coach_rows) else np.array([], dtype=int)
    per_volley = _per_volley(indicators, volley)
    weights = _resample_weights(rng, per_volley["open"].shape[1], rounds)
    counts = {name: (weights * values).sum(axis=1) for name, values in per_volley.items()}
    hard_volley = _per_volley({name: hard_coach[:, k][None, :] for k, name in enumerate(_COACH_OUTCOMES)}, volley)
    basis = {name: int(values.sum()) for name, values in hard_volley.items()}

    # Client: per utterance one of change, sustain, neutral.
    talk = utterances.iloc[client_rows][CLIENT_TALK_COLUMN] if CLIENT_TALK_COLUMN in utterances else pd.Series(
        [None] * len(client_rows), dtype=object)
    hard_client = np.column_stack([(talk == "change").to_numpy(), (talk == "sustain").to_numpy()]).astype(float)
    if use_coder and len(client_rows):
        probs = _client_probabilities(utterances.iloc[client_rows], hard_client)
        tilt = _tilts(rng, rounds, settings, _CLIENT_PAIRS)
        drawn = _draw(rng, _soften(probs, settings["client_temperature"]), tilt)
        change, sustain = drawn == 0, drawn == 1
    else:
        change, sustain = hard_client[:, 0][None, :] > 0, hard_client[:, 1][None, :] > 0
    weights = _resample_weights(rng, len(client_rows), rounds)
    counts["change"] = (weights * change).sum(axis=1)
    counts["change_or_sustain"] = (weights * (change | sustain)).sum(axis=1)
    basis["change"] = int(hard_client[:, 0].sum())
    basis["change_or_sustain"] = int(hard_client.sum())

    # The ratios' numerators and denominators.
    counts = {
        "question": counts["open"] + counts["closed"], "open": counts["open"],  # not a column
        "reflection": counts["complex"] + counts["simple"], "complex": counts["complex"],  # not a column
        "change": counts["change"], "change_or_sustain": counts["change_or_sustain"],
    }
    basis = {"question": basis["open"] + basis["closed"], "reflection": basis["complex"] + basis["simple"],  # not a column
             "change_or_sustain": basis["change_or_sustain"]}
    return counts, basis


def _hard_coach(coach: pd.DataFrame) -> np.ndarray:
    """The coach rows' codes as 0/1 columns open, closed, complex, simple (an utterance may hold a question and a reflection)."""
    question = coach[QUESTION_COLUMN] if QUESTION_COLUMN in coach else pd.Series([None] * len(coach), dtype=object)
    reflection = coach[REFLECTION_COLUMN] if REFLECTION_COLUMN in coach else pd.Series([None] * len(coach), dtype=object)
    return np.column_stack([(question == "open").to_numpy(), (question == "closed").to_numpy(),
                            (reflection == "complex").to_numpy(), (reflection == "simple").to_numpy()]).astype(float)


def _numeric(frame: pd.DataFrame, columns) -> np.ndarray:
    return np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(float) for c in columns])


def _with_rest(probs: np.ndarray, hard: np.ndarray) -> np.ndarray:
    """Outcome probabilities with a last "none of them" column; rows without probabilities use their codes."""
    missing = np.isnan(probs).any(axis=1)
    probs = np.where(missing[:, None], hard, np.clip(np.nan_to_num(probs), 0.0, 1.0))
    total = probs.sum(axis=1, keepdims=True)
    probs = np.where(total > 1.0, probs / np.maximum(total, 1e-12), probs)  # a hand code may be question and reflection
    return np.column_stack([probs, np.clip(1.0 - probs.sum(axis=1), 0.0, 1.0)])


def _coach_probabilities(coach: pd.DataFrame, hard: np.ndarray) -> np.ndarray:
    return _with_rest(_numeric(coach, _COACH_COLUMNS), hard)


def _client_probabilities(client: pd.DataFrame, hard: np.ndarray) -> np.ndarray:
    return _with_rest(_numeric(client, _CLIENT_COLUMNS), hard)


def _soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities raised to 1 / temperature and renormalised per row (a temperature on the log-probabilities)."""
    if temperature == 1.0:
        return probs
    with np.errstate(divide="ignore"):
        scaled = np.exp(np.log(probs) / temperature)
    return scaled / np.maximum(scaled.sum(axis=1, keepdims=True), 1e-300)


def _tilts(rng: np.random.Generator, rounds: int, settings: dict[str, float], pairs: dict[str, tuple]) -> np.ndarray:
    """``(rounds, outcomes)`` log-probability shifts: per round one normal draw per pair, times its sd."""
    shifts = rng.standard_normal((rounds, len(pairs)))  # drawn even for sd 0, so every setting sees the same stream
    sds = np.array([settings[key] for key in pairs])
    return (shifts * sds) @ np.array(list(pairs.values()))


def _draw(rng: np.random.Generator, probs: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    """``(rounds, n)`` outcome indices: in round r each utterance's outcome is drawn from its row of
    ``probs`` with the log-probabilities shifted by ``tilt[r]`` (and renormalised)."""
    weights = np.exp(tilt)  # (rounds, outcomes)
    mass = [weights[:, k, None] * probs[None, :, k] for k in range(probs.shape[1])]  # each (rounds, n)
    threshold = rng.random(mass[0].shape) * sum(mass)  # a uniform draw on each row's total
    drawn = np.zeros(threshold.shape, dtype=np.int8)
    below = np.zeros(threshold.shape)
    for k in range(probs.shape[1] - 1):  # the outcome is beyond k when the draw lies beyond the mass up to k
        below += mass[k]
        drawn += threshold >= below
    return drawn


def _per_volley(indicators: dict[str, np.ndarray], volley: np.ndarray) -> dict[str, np.ndarray]:
    """Utterance indicators ``(rounds, n)`` -> volley indicators ``(rounds, volleys)`` counted the MITI way.

    ``volley`` numbers the coach rows in order (non-decreasing). A volley counts an open question if
    any of its utterances is one, else a closed question if any is; likewise complex, then simple reflections.
    """
    if not len(volley):
        empty = np.zeros((1, 0))
        return {name: empty for name in indicators}
    starts = np.flatnonzero(np.r_[True, volley[1:] != volley[:-1]])
    any_of = {name: np.logical_or.reduceat(values.astype(bool), starts, axis=1) for name, values in indicators.items()}
    return {"open": any_of["open"], "closed": any_of["closed"] & ~any_of["open"],
            "complex": any_of["complex"], "simple": any_of["simple"] & ~any_of["complex"]}


def _resample_weights(rng: np.random.Generator, n: int, rounds: int) -> np.ndarray:
    """``(rounds, n)``: how often each item is drawn in each round's resample with replacement."""
    if n == 0:
        return np.zeros((rounds, 0))
    picks = rng.integers(0, n, size=(rounds, n)) + (np.arange(rounds) * n)[:, None]
    return np.bincount(picks.ravel(), minlength=rounds * n).reshape(rounds, n)


def _talk_share(utterances: pd.DataFrame, rng: np.random.Generator, rounds: int, tail: float) -> dict:
    """The coach's share of talk time, resampling utterances (needs every utterance's start and end)."""
    n = len(utterances)
    if not n or not {"start", "end"} <= set(utterances.columns) or not utterances[["start", "end"]].notna().all(axis=None):
        return {"low": None, "high": None}
    seconds = (utterances["end"].astype(float) - utterances["start"].astype(float)).clip(lower=0).to_numpy()
    if seconds.sum() <= 0:
        return {"low": None, "high": None}
    coach = np.where((utterances["role"] == "coach").to_numpy(), seconds, 0.0)
    weights = _resample_weights(rng, n, rounds)
    return _percentiles(weights @ coach, weights @ seconds, 1.0, rounds, tail)
