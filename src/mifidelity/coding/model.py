"""The trained coder's heads: small classifiers on top of the frozen-encoder features.

Stored as one ``.npz`` of plain arrays (no pickle: loading an artifact can never
run code) plus a JSON metadata string. Each task has a head: a standardiser, an
optional hidden layer (ReLU) and a softmax layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mifidelity.coding.base import CLIENT_CODE_COLUMNS, COACH_CODE_COLUMNS, LABELS, PROBABILITY_COLUMNS, blank_codes

FORMAT_VERSION = 2


@dataclass
class Head:
    """One task's classifier: ``softmax(relu?(standardise(x) @ W1 + b1) @ W + b + bias)``.

    ``bias`` is a per-class offset tuned after training (macro-F1 favours rare
    classes more than the training loss does).
    """

    labels: tuple
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    intercept: np.ndarray
    hidden_weight: np.ndarray | None = None
    hidden_intercept: np.ndarray | None = None
    bias: np.ndarray | None = None

    def logits(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.scale
        if self.hidden_weight is not None:
            z = np.maximum(z @ self.hidden_weight + self.hidden_intercept, 0.0)
        logits = z @ self.weight + self.intercept
        if self.bias is not None:
            logits = logits + self.bias
        return logits

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities, ``(n, len(labels))``."""
        logits = self.logits(features.astype(np.float32, copy=False))
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


@dataclass
class CoderModel:
    """All heads plus metadata (encoder, feature layout, training summary)."""

    heads: dict[str, Head]
    meta: dict = field(default_factory=dict)

    def predict_proba(self, features: np.ndarray) -> dict[str, np.ndarray]:
        return {task: head.predict_proba(features) for task, head in self.heads.items()}

    def save(self, path: str | Path) -> None:
        """Write the heads as a compressed ``.npz`` (float32)."""
        arrays: dict[str, np.ndarray] = {}
        for task, head in self.heads.items():
            for name in ("mean", "scale", "weight", "intercept", "hidden_weight", "hidden_intercept", "bias"):
                value = getattr(head, name)
                if value is not None:
                    # Weight matrices in float16 halve the artifact; standardisation stays float32.
                    dtype = np.float16 if name in ("weight", "hidden_weight") else np.float32
                    arrays[f"{task}/{name}"] = np.asarray(value, dtype=dtype)
        meta = dict(self.meta, format_version=FORMAT_VERSION,
                    labels={task: [_json_label(v) for v in head.labels] for task, head in self.heads.items()})
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "CoderModel":
        """Read an artifact written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"{path}: artifact format {meta.get('format_version')}, expected {FORMAT_VERSION}")
            heads = {}
            for task, labels in meta["labels"].items():
                get = lambda name: data[f"{task}/{name}"] if f"{task}/{name}" in data else None  # noqa: E731
                as32 = lambda a: None if a is None else a.astype(np.float32)  # noqa: E731
                heads[task] = Head(tuple(labels), as32(get("mean")), as32(get("scale")), as32(get("weight")),
                                   as32(get("intercept")), as32(get("hidden_weight")), as32(get("hidden_intercept")),
                                   as32(get("bias")))
        return cls(heads, meta)


def _json_label(value):
    return bool(value) if isinstance(value, (bool, np.bool_)) else value


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
