"""Stage 3: who spoke when, engines behind one protocol.

``get_diarizer(config).diarize(recording, hook) -> Diarization``

Engines: ``embedding`` (default, offline: VAD + speaker embeddings that ship in a
package + clustering), ``channels`` (one person per channel), ``pyannote``
(a pyannote.audio pipeline).
"""

from __future__ import annotations

from typing import Callable, Protocol

from mifidelity.config import DiarizationConfig
from mifidelity.types import Diarization, Recording, StageInfo


class Diarizer(Protocol):
    info: StageInfo

    def diarize(
        self, recording: Recording, hook: Callable[[str, float], None] | None = None
    ) -> Diarization: ...


def get_diarizer(config: DiarizationConfig) -> Diarizer:
    """Build the diariser named by ``config.engine``."""
    if config.engine == "channels":
        from mifidelity.diarization.channels import ChannelDiarizer

        return ChannelDiarizer(config)
    if config.engine == "pyannote":
        from mifidelity.diarization.pyannote_engine import PyannoteDiarizer

        return PyannoteDiarizer(config)
    from mifidelity.diarization.embedding import EmbeddingDiarizer

    return EmbeddingDiarizer(config)
