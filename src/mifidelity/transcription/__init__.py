"""Stage 2: speech recognition engines behind one protocol.

``get_transcriber(config).transcribe(recording, hook) -> Transcript``
"""

from __future__ import annotations

from typing import Protocol

from mifidelity.config import AsrConfig
from mifidelity.engines import load_engine
from mifidelity.types import ProgressHook, Recording, StageInfo, Transcript


class Transcriber(Protocol):
    info: StageInfo

    def load(self) -> "Transcriber":
        """Load the model now rather than on the first recording."""
        ...

    def transcribe(
        self, recording: Recording, hook: ProgressHook | None = None
    ) -> Transcript: ...


def get_transcriber(config: AsrConfig) -> Transcriber:
    """Build the recogniser named by ``config.engine`` (its class: :data:`mifidelity.engines.TRANSCRIBERS`)."""
    return load_engine("asr", config.engine)(config)
