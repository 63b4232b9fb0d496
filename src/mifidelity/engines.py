"""The engines of each stage, by name: one registry per kind, read by the config schema, the CLI, the factories
and the model inventory, so a new engine is one entry here (and its class).

An entry names its class as ``"module:ClassName"`` and imports it only when the engine is built
(:func:`load_engine`): this module is on the bottom floor of the import map, beside the config that reads it,
so listing the names never imports torch, faster-whisper or pyannote. The kinds are keyed like the config
sections that choose them (``asr.engine``, ``diarization.engine``, ``coding.engine``), and each kind's factory
builds the class from that section: ``cls(config.asr)`` (``get_transcriber``), ``cls(config.diarization)``
(``get_diarizer``), ``cls.from_config(config.coding)`` (``get_coder``: a coder is also made by hand, with an
artifact path, in training).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from mifidelity.errors import MifidelityError


@dataclass(frozen=True)
class Engine:
    """One engine of a stage.

    Attributes
    ----------
    target:
        ``"package.module:ClassName"`` of the class implementing the kind's protocol
        (``transcription.Transcriber``, ``diarization.Diarizer``, ``coding.base.UtteranceCoder``).
    description:
        One line for people (``models list``, ``--help``).
    requires:
        Import name of a package the engine needs that a site may not have; ``None``: nothing beyond mifidelity.
    install:
        How to get ``requires`` (shown in the error and in ``models list``).
    """

    target: str
    description: str
    requires: str | None = None
    install: str | None = None

    def available(self) -> bool:
        """Whether the package the engine needs can be imported here (nothing is imported)."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


TRANSCRIBERS: dict[str, Engine] = {
    "faster-whisper": Engine("mifidelity.transcription.faster_whisper_engine:FasterWhisperTranscriber",
                             "Whisper on CTranslate2 (the default; bundled tiny.en and base)"),
    "openai-whisper": Engine("mifidelity.transcription.openai_whisper_engine:OpenAIWhisperTranscriber",
                             "the reference Whisper on PyTorch", requires="whisper",
                             install="pip install openai-whisper"),
}
DIARIZERS: dict[str, Engine] = {
    "auto": Engine("mifidelity.diarization:AutoDiarizer",
                   "channels for one-person-per-channel stereo, otherwise embedding"),
    "embedding": Engine("mifidelity.diarization.embedding:EmbeddingDiarizer",
                        "VAD + GE2E speaker embeddings + clustering, offline"),
    "channels": Engine("mifidelity.diarization.channels:ChannelDiarizer", "one speaker per channel"),
    "pyannote": Engine("mifidelity.diarization.pyannote_engine:PyannoteDiarizer", "a pyannote.audio pipeline",
                       requires="pyannote.audio", install="pip install pyannote.audio"),
}
CODERS: dict[str, Engine] = {
    "trained": Engine("mifidelity.coding.trained:TrainedCoder",
                      "all-MiniLM-L6-v2 with top layers fine-tuned on AnnoMI, reading context"),
    "rules": Engine("mifidelity.coding.rules:RuleCoder", "keyword heuristics, no model"),
}
# Keyed by the config section that chooses the engine (and the stage column of `models list`).
REGISTRIES: dict[str, dict[str, Engine]] = {"asr": TRANSCRIBERS, "diarization": DIARIZERS, "coding": CODERS}


def engine_names(kind: str) -> tuple[str, ...]:
    """The names of ``kind``'s engines (``"asr"``, ``"diarization"`` or ``"coding"``), in registry order."""
    return tuple(REGISTRIES[kind])


def load_engine(kind: str, name: str) -> type:
    """The class of ``kind``'s engine ``name``, imported now.

    Raises
    ------
    MifidelityError
        If the package the engine needs is not installed here.
    ValueError
        If no such engine is registered (the config refuses such a name before it gets here).
    """
    engines = REGISTRIES[kind]
    if name not in engines:
        raise ValueError(f"unknown {kind} engine {name!r}; use one of: {', '.join(engines)}")
    engine = engines[name]
    if not engine.available():
        raise MifidelityError(f"the {name} engine needs a package this machine lacks ({engine.requires}): {engine.install}")
    module, _, attribute = engine.target.partition(":")
    return getattr(importlib.import_module(module), attribute)
