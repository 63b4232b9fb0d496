"""Stage 3: who spoke when, engines behind one protocol.

``get_diarizer(config).diarize(recording, hook) -> Diarization``

Engines: ``embedding`` (offline: VAD + speaker embeddings that ship in a
package + clustering), ``channels`` (one person per channel), ``pyannote``
(a pyannote.audio pipeline), and ``auto`` (the default, :class:`AutoDiarizer`):
``channels`` for a recording that has one person per channel, otherwise
``embedding``. Their names and classes: :data:`mifidelity.engines.DIARIZERS`.
"""

from __future__ import annotations

from typing import Protocol

from mifidelity.config import DiarizationConfig
from mifidelity.engines import load_engine
from mifidelity.types import Diarization, ProgressHook, Recording, StageInfo


class Diarizer(Protocol):
    info: StageInfo

    def load(self) -> "Diarizer":
        """Load any model now rather than on the first recording."""
        ...

    def diarize(
        self, recording: Recording, hook: ProgressHook | None = None
    ) -> Diarization: ...


class AutoDiarizer:
    """Chooses per recording: the channel diariser for split-channel calls, else the embedding one."""

    def __init__(self, config: DiarizationConfig):
        self.config = config
        self.info = StageInfo(engine="auto", model="channels or embedding", version="1")

    def load(self) -> "AutoDiarizer":
        """Load the embedding diariser's model now (the channel diariser has none)."""
        get_diarizer(self.config.model_copy(update={"engine": "embedding"})).load()
        return self

    def diarize(self, recording: Recording, hook: ProgressHook | None = None) -> Diarization:
        from mifidelity.diarization.channels import one_speaker_per_channel

        engine = "channels" if one_speaker_per_channel(recording) else "embedding"
        return get_diarizer(self.config.model_copy(update={"engine": engine})).diarize(recording, hook)


def get_diarizer(config: DiarizationConfig) -> Diarizer:
    """Build the diariser named by ``config.engine`` (its class: :data:`mifidelity.engines.DIARIZERS`)."""
    return load_engine("diarization", config.engine)(config)
