"""How far to trust a session's ratios: percentile bootstrap intervals over its utterances."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
