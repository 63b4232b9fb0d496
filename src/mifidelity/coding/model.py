"""From per-task probabilities to the coder's output table (shared by trained coders)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from mifidelity.coding.base import CLIENT_CODE_COLUMNS, COACH_CODE_COLUMNS, LABELS, PROBABILITY_COLUMNS, blank_codes


def enforce_consistency(probs: dict[str, np.ndarray], labels: dict[str, tuple]) -> dict[str, np.ndarray]:
    """Make question/reflection agree with a confident main behaviour.

    AnnoMI annotators never code a main-behaviour question without a question
    subtype (nor a reflection without a reflection subtype). When the main head
    says "question", the question head's "none" is dropped and the rest
    renormalised; likewise for reflections. Applied to hard decisions only.
    """
    out = {k: v.copy() for k, v in probs.items()}
    if "main_behaviour" not in probs:
        return out
    main = probs["main_behaviour"].argmax(1)
    main_labels = labels["main_behaviour"]
    for task, main_label in (("question", "question"), ("reflection", "reflection")):
        if task not in out:
            continue
        rows = main == main_labels.index(main_label)
        none = labels[task].index("none")
        p = out[task][rows]
        p[:, none] = 0.0
        out[task][rows] = p / np.maximum(p.sum(1, keepdims=True), 1e-12)
    return out


def codes_from_probabilities(roles: Sequence[str], probs: dict[str, np.ndarray],
                             labels: dict[str, tuple]) -> pd.DataFrame:
    """Turn per-task probabilities into the coder's output table.

    Parameters
    ----------
    roles:
        ``"coach"``/``"client"`` per utterance.
    probs:
        Task -> ``(n, k)`` probabilities, columns in ``labels[task]`` order.
    labels:
        Task -> label tuple.

    Returns
    -------
    pandas.DataFrame
        The code columns plus ``<column>_confidence``; cells that do not apply to a
        row's role are ``None``.
    """
    codes = blank_codes(roles)
    is_coach = np.array([r == "coach" for r in roles], dtype=bool)
    for task in COACH_CODE_COLUMNS + CLIENT_CODE_COLUMNS:
        applies = is_coach if task in COACH_CODE_COLUMNS else ~is_coach
        label_values = list(labels[task])
        best = probs[task].argmax(1)
        chosen = np.empty(len(roles), dtype=object)
        chosen[:] = None
        confidence = np.empty(len(roles), dtype=object)
        confidence[:] = None
        for i in np.flatnonzero(applies):
            value = label_values[best[i]]
            chosen[i] = bool(value) if task == "giving_information" else value
            confidence[i] = float(probs[task][i, best[i]])
        codes[task] = pd.Series(chosen, dtype=object)
        codes[f"{task}_confidence"] = pd.Series(confidence, dtype=object)
    ordered = list(LABELS)  # code columns first, then confidences, stable for writers
    return codes[ordered + [f"{t}_confidence" for t in ordered]]


def probability_columns(roles: Sequence[str], probs: dict[str, np.ndarray], labels: dict[str, tuple]) -> pd.DataFrame:
    """The :data:`~mifidelity.coding.base.PROBABILITY_COLUMNS` from per-task probabilities.

    Taken from the heads' own probabilities (before :func:`enforce_consistency`, which
    only serves hard decisions); ``None`` where a code does not apply to a row's role.
    """
    is_coach = np.array([r == "coach" for r in roles], dtype=bool)
    out = {}
    for column, (task, label) in PROBABILITY_COLUMNS.items():
        applies = is_coach if task in COACH_CODE_COLUMNS else ~is_coach
        values = np.empty(len(roles), dtype=object)
        values[:] = None
        values[applies] = [round(float(p), 4) for p in probs[task][applies, list(labels[task]).index(label)]]
        out[column] = pd.Series(values, dtype=object)
    return pd.DataFrame(out)
