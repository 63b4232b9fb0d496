"""Scoring the coder against experts: macro-F1 per task, confusion, session metrics, expert agreement.

Shared by the cross-validation command (:mod:`mifidelity.training.evaluate`), the
adherence and session-model training, and the tests. Never looks at utterance text except to
re-code an accepted correction (:func:`correction_agreement`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mifidelity.coding.base import (CLIENT_TALK_COLUMN, GIVING_INFORMATION_COLUMN, LABELS, MAIN_BEHAVIOUR_COLUMN,
                                    QUESTION_COLUMN, REFLECTION_COLUMN)
from mifidelity.coding.model import decision_key, joint_behaviour
from mifidelity.training.data import TASKS, majority_vote
from mifidelity.training.train import task_rows

SCORED_TASKS = (MAIN_BEHAVIOUR_COLUMN, QUESTION_COLUMN, REFLECTION_COLUMN, CLIENT_TALK_COLUMN, GIVING_INFORMATION_COLUMN)
SESSION_METRICS = ("R:Q", "%CR", "%OQ", "%CT")


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple) -> float:
    """Macro-F1 over ``labels`` (sklearn's definition)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=list(range(len(labels))), average="macro", zero_division=0))



def label_indices(values: np.ndarray, task: str) -> np.ndarray:
    return np.array([LABELS[task].index(v) for v in values])



def session_metric_table(data: pd.DataFrame, counts: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per-transcript R:Q, %CR, %OQ, %CT from (possibly fractional) per-utterance counts.

    Parameters
    ----------
    data:
        Utterances (for ``transcript_id``).
    counts:
        Name -> per-utterance count (0/1 for hard labels, a probability for expected
        counts): ``open``, ``closed``, ``simple``, ``complex``, ``change``, ``sustain``.
    """
    frame = pd.DataFrame(counts)
    frame["transcript_id"] = data["transcript_id"].to_numpy()
    sums = frame.groupby("transcript_id").sum()
    questions = sums["open"] + sums["closed"]
    reflections = sums["simple"] + sums["complex"]
    talk = sums["change"] + sums["sustain"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "R:Q": np.where(questions > 0, reflections / questions, np.nan),
            "%CR": np.where(reflections > 0, 100 * sums["complex"] / reflections, np.nan),
            "%OQ": np.where(questions > 0, 100 * sums["open"] / questions, np.nan),
            "%CT": np.where(talk > 0, 100 * sums["change"] / talk, np.nan),
        }, index=sums.index)



def counts_from_labels(data: pd.DataFrame, labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """0/1 counts from label arrays aligned with ``data`` (``None`` where a task does not apply)."""
    return {
        "open": labels[QUESTION_COLUMN] == "open", "closed": labels[QUESTION_COLUMN] == "closed",
        "simple": labels[REFLECTION_COLUMN] == "simple", "complex": labels[REFLECTION_COLUMN] == "complex",
        "change": labels[CLIENT_TALK_COLUMN] == "change", "sustain": labels[CLIENT_TALK_COLUMN] == "sustain",
    }



def counts_from_probabilities(data: pd.DataFrame, probs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Expected counts: each utterance contributes its probability of each label."""
    coach = (data["role"] == "coach").to_numpy()
    client = ~coach
    col = lambda task, label: probs[task][:, LABELS[task].index(label)]  # noqa: E731
    return {
        "open": col(QUESTION_COLUMN, "open") * coach, "closed": col(QUESTION_COLUMN, "closed") * coach,
        "simple": col(REFLECTION_COLUMN, "simple") * coach, "complex": col(REFLECTION_COLUMN, "complex") * coach,
        "change": col(CLIENT_TALK_COLUMN, "change") * client, "sustain": col(CLIENT_TALK_COLUMN, "sustain") * client,
    }



def session_agreement(expert: pd.DataFrame, predicted: pd.DataFrame, min_denominator: pd.DataFrame) -> pd.DataFrame:
    """Pearson r and median absolute error per session metric, over sessions where both are defined.

    ``min_denominator`` marks which sessions have enough expert-coded questions,
    reflections or client talk (>= 3) for the metric to mean something.
    """
    rows = {}
    for metric in SESSION_METRICS:
        both = expert[metric].notna() & predicted[metric].notna() & min_denominator[metric]
        e, p = expert.loc[both, metric].to_numpy(), predicted.loc[both, metric].to_numpy()
        r = float(np.corrcoef(e, p)[0, 1]) if both.sum() > 2 else float("nan")
        rows[metric] = {"r": r, "MAE": float(np.median(np.abs(e - p))), "n": int(both.sum())}
    return pd.DataFrame(rows).T



def correction_agreement(corrections: pd.DataFrame, model_path: str | None = None) -> pd.DataFrame:
    """How many accepted corrections a coder now agrees with, per code (each utterance coded on its own).

    Run it on the shipped coder and on one trained with ``--extra-corrections`` to see their effect.
    """
    from mifidelity.coding.trained import TrainedCoder

    coder = TrainedCoder(model_path)
    rows = []
    for record in corrections.itertuples(index=False):
        codes = coder.code([record.role], [record.text]).iloc[0]
        for task in TASKS:
            wanted = getattr(record, task)
            if wanted is not None:
                rows.append({"code": task, "agrees": str(codes[task]) == str(wanted)})
    table = pd.DataFrame(rows, columns=["code", "agrees"])
    return table.groupby("code")["agrees"].agg(corrections="size", coder_agrees="sum").reset_index()



def hard_labels(data: pd.DataFrame, probs: dict[str, np.ndarray], consistent: bool = True) -> dict[str, np.ndarray]:
    """Arg-max labels (after the coder's joint decision, :func:`joint_behaviour`), ``None`` where a task does not apply."""
    if consistent:
        probs = joint_behaviour(probs, LABELS)
    coach = (data["role"] == "coach").to_numpy()
    out = {}
    for task in TASKS:
        applies = ~coach if task == CLIENT_TALK_COLUMN else coach
        values = np.array(LABELS[task], dtype=object)[probs.get(decision_key(task), probs[task]).argmax(1)]
        values[~applies] = None
        out[task] = values
    return out



def task_scores(data: pd.DataFrame, predicted: dict[str, np.ndarray]) -> dict[str, float]:
    """Macro-F1 per task over the rows each task applies to."""
    scores = {}
    for task in SCORED_TASKS:
        rows = task_rows(data, task)
        scores[task] = macro_f1(label_indices(data[task].to_numpy()[rows], task),
                                label_indices(predicted[task][rows], task), LABELS[task])
    return scores



def confusion(data: pd.DataFrame, predicted: dict[str, np.ndarray], task: str) -> pd.DataFrame:
    """Confusion matrix (rows: expert, columns: predicted)."""
    rows = task_rows(data, task)
    table = pd.crosstab(pd.Categorical(data[task].to_numpy()[rows], categories=list(LABELS[task])),
                        pd.Categorical(predicted[task][rows], categories=list(LABELS[task])),
                        rownames=["expert"], colnames=["predicted"], dropna=False)
    return table



def expert_agreement(annotators: pd.DataFrame, data: pd.DataFrame, predicted: dict[str, np.ndarray]) -> pd.DataFrame:
    """One expert and the coder against the majority of the other experts, where several coded a transcript.

    For every annotator of a multiply-annotated transcript, the reference is the majority vote of
    the *other* annotators (ties as in :func:`~mifidelity.training.data.majority_vote`). "expert"
    scores the held-out annotator against it and "coder" scores the coder's labels against the
    same references; both are macro-F1 over all (utterance, held-out annotator) pairs.

    Parameters
    ----------
    annotators:
        :func:`~mifidelity.training.data.annotator_tables` output.
    data:
        The corpus rows (``transcript_id``, ``utterance_id``) that ``predicted`` is aligned with.
    predicted:
        Task -> label per row of ``data`` (e.g. out-of-fold hard labels).
    """
    row_of = {(int(t), int(u)): i for i, (t, u) in enumerate(zip(data["transcript_id"], data["utterance_id"]))}
    out = {}
    for task in SCORED_TASKS:
        truth, expert, coder = [], [], []
        for transcript, group in annotators[annotators[task].notna()].groupby("transcript_id"):
            wide = group.set_index(["utterance_id", "annotator_id"])[task].unstack()
            if wide.shape[1] < 3:
                continue
            ours = [predicted[task][row_of[(int(transcript), int(u))]] for u in wide.index]
            for annotator in wide.columns:
                reference = wide.drop(columns=annotator).apply(lambda row: majority_vote(row, task), axis=1)
                for own, ref, mine in zip(wide[annotator], reference, ours):
                    if pd.notna(own) and ref is not None and mine is not None:
                        truth.append(ref)
                        expert.append(own)
                        coder.append(mine)
        if not truth:
            continue
        y = label_indices(np.array(truth, dtype=object), task)
        out[task] = {
            "expert": macro_f1(y, label_indices(np.array(expert, dtype=object), task), LABELS[task]),
            "coder": macro_f1(y, label_indices(np.array(coder, dtype=object), task), LABELS[task]),
            "pairs": len(truth),
        }
    return pd.DataFrame(out)
