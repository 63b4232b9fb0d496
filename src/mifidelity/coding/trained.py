"""The trained utterance coder: all-MiniLM-L6-v2 with fine-tuned, context-reading top layers.

See ``docs/model-card.md`` for data, method, cross-validated scores and limits, and
:mod:`mifidelity.coding.context` for the network.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from mifidelity.coding.adherence import AdherenceCoder, adherence_codes
from mifidelity.coding.base import (ADHERENCE_COLUMN, LABELS, MAIN_BEHAVIOUR_COLUMN, PROBABILITY_COLUMNS,
                                    blank_codes, confidence_column, seed_artifact_path)
from mifidelity.coding.context import BOTTOM_LAYERS, ContextCoder, FrozenBottom, cue_features
from mifidelity.coding.features import torch_threads
from mifidelity.coding.model import codes_from_probabilities, joint_adherence, joint_behaviour, probability_columns
from mifidelity.coding.plain_speech import PLAIN_SPEECH_VERSION, adjust_adherence, adjust_behaviour, detect_all
from mifidelity.config import CodingConfig
from mifidelity.types import StageInfo

# The bundled coder averages the probabilities of two trainings of one recipe that differ only in
# their seed (docs/model-card.md, "Two seeds"): better calibrated, and steadier session metrics.
SHIPPED_SEEDS = (20240611, 7)


def seed_artifact(seed: int) -> Path:
    """The bundled artifact trained with ``seed`` (where ``train --seed SEED`` writes by default)."""
    return seed_artifact_path("minilm-context", seed, SHIPPED_SEEDS[0])


DEFAULT_ARTIFACTS = tuple(seed_artifact(seed) for seed in SHIPPED_SEEDS)
DEFAULT_ARTIFACT = DEFAULT_ARTIFACTS[0]

_MODELS: dict[str, ContextCoder] = {}
_MODELS_LOCK = threading.Lock()
_BOTTOM: FrozenBottom | None = None
_BOTTOM_LOCK = threading.Lock()


def _load_model(path: Path) -> ContextCoder:
    """Load an artifact once per process (coders are created per session)."""
    key = str(path.resolve())
    with _MODELS_LOCK:
        if key not in _MODELS:
            if not path.exists():
                raise FileNotFoundError(f"trained coder artifact not found: {path}")
            _MODELS[key] = ContextCoder.load(path)
        return _MODELS[key]


def get_bottom() -> FrozenBottom:
    """The process-wide frozen encoder bottom (MiniLM embeddings + layers 1-2), loaded on first use."""
    global _BOTTOM
    with _BOTTOM_LOCK:
        if _BOTTOM is None:
            _BOTTOM = FrozenBottom()
        return _BOTTOM


class TrainedCoder:
    """MITI codes from all-MiniLM-L6-v2 with layers 3-6 fine-tuned on AnnoMI, reading context.

    Parameters
    ----------
    model_path:
        An artifact written by ``python -m mifidelity.training.train``, or several whose
        probabilities are averaged; ``None`` uses the ones bundled with the package
        (:data:`DEFAULT_ARTIFACTS`, two seeds).

    Notes
    -----
    Nothing is loaded until the first :meth:`code` call (or :meth:`load`); the
    encoder and the fine-tuned layers are then shared by every coder in the process.
    Several artifacts share the frozen bottom; only their fine-tuned layers run once each.
    The MITI adherence code (``adherence``) comes from
    :class:`~mifidelity.coding.adherence.AdherenceCoder`, run beside the behaviour codes.
    :meth:`code` then weighs in what the words say (directives, warnings, lectures,
    confrontations, minimising, advice, summaries, rulers: :mod:`mifidelity.coding.plain_speech`;
    ``plain_speech=False`` leaves it out); :meth:`predict_proba` is the network's alone.
    """

    def __init__(self, model_path: str | Sequence[str] | None = None, adherence_path: str | None = None,
                 plain_speech: bool = True):
        paths = [model_path] if isinstance(model_path, (str, Path)) else list(model_path or [])
        self.model_paths = tuple(Path(p).expanduser() for p in paths) or DEFAULT_ARTIFACTS
        self.plain_speech = plain_speech  # False: the network's codes without the word cues (for comparison)
        self.info = StageInfo(engine="trained", model="+".join(["all-MiniLM-L6-v2", *self._names()]), version="unloaded")
        self._models: list[ContextCoder] = []
        self.adherence = AdherenceCoder(adherence_path)

    @classmethod
    def from_config(cls, config: CodingConfig) -> "TrainedCoder":
        """The coder of the ``coding`` section (``model_path``: its artifact(s), ``None`` = the bundled ones)."""
        return cls(config.model_path)

    def load(self) -> "TrainedCoder":
        """Load the fine-tuned layers and the frozen encoder now (otherwise done on first use)."""
        if not self._models:
            models = [_load_model(path) for path in self.model_paths]
            for path, model in zip(self.model_paths[1:], models[1:]):
                if model.labels != models[0].labels or model.meta.get("encoder") != models[0].meta.get("encoder"):
                    raise ValueError(f"{path} codes other labels or reads another encoder than {self.model_paths[0]}: "
                                     "only artifacts of one recipe can be averaged")
            self.adherence.load()
            versions = "/".join(f"{m.meta.get('model_version', '?')}s{m.meta.get('seed', '?')}" for m in models)
            self.info = StageInfo(engine="trained",
                                  model="+".join([models[0].meta.get("encoder", "encoder"), *self._names(),
                                                  *(path.name for path in self.adherence.model_paths)]),
                                  version=f"{versions}+{self.adherence.info.version}"
                                          + (f"+plain-speech-{PLAIN_SPEECH_VERSION}" if self.plain_speech else ""))
            self._models = models
        get_bottom()
        return self

    def _names(self) -> list[str]:
        return [path.name for path in self.model_paths]

    def predict_proba(self, roles: Sequence[str], texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Per-task class probabilities (columns in ``LABELS[task]`` order), for every row.

        Useful for session-level estimates from expected counts; :meth:`code` gives
        the hard labels. With several artifacts, the mean of their probabilities.
        """
        return self._network(roles, texts)[1]

    def _network(self, roles: Sequence[str], texts: Sequence[str]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """The frozen-bottom states (shared with the adherence coder) and the mean probabilities."""
        self.load()
        texts = ["" if t is None else str(t) for t in texts]
        roles = [str(r) for r in roles]
        states, cues = get_bottom().encode(texts), cue_features(roles, texts)
        with torch_threads():
            runs = [model.predict_proba(states, roles, cues) for model in self._models]
        return states, {task: np.mean([run[task] for run in runs], axis=0) for task in runs[0]}

    def code(self, roles: Sequence[str], texts: Sequence[str]) -> pd.DataFrame:
        """Code a session's utterances (see :class:`mifidelity.coding.base.UtteranceCoder`)."""
        if len(roles) != len(texts):
            raise ValueError(f"{len(roles)} roles for {len(texts)} texts")
        if not len(roles):
            codes = blank_codes(roles)
            for column in [confidence_column(c) for c in LABELS] + [ADHERENCE_COLUMN, confidence_column(ADHERENCE_COLUMN)] \
                    + list(PROBABILITY_COLUMNS):
                codes[column] = pd.Series([], dtype=object)
            return codes
        roles, texts = [str(r) for r in roles], ["" if t is None else str(t) for t in texts]
        states, network = self._network(roles, texts)
        labels = dict(self._models[0].labels)
        # What the words say (directives, warnings, summaries, rulers...) weighs in before the
        # joint decision: mifidelity.coding.plain_speech, docs/model-card.md "Plain speech".
        cues = detect_all(roles, texts) if self.plain_speech else [frozenset()] * len(roles)
        probs = adjust_behaviour(network, cues, labels)
        joint = joint_behaviour(probs, labels)
        codes = codes_from_probabilities(roles, joint, labels)
        # The adherence encoder's lower layers are the frozen bottom's: it starts from those states.
        adherence = self.adherence.predict_proba(roles, texts, lower_states=states, lower_layers=BOTTOM_LAYERS)
        adherence = adherence_codes(roles, joint_adherence(adjust_adherence(adherence, cues),
                                                           probs[MAIN_BEHAVIOUR_COLUMN], labels[MAIN_BEHAVIOUR_COLUMN]))
        return pd.concat([codes, adherence, probability_columns(roles, joint, labels)], axis=1)
