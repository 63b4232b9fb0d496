"""Stage 2: speech recognition engines behind one protocol.

``get_transcriber(config).transcribe(recording, hook) -> Transcript``
"""

from __future__ import annotations

from typing import Callable, Protocol

from mifidelity.config import AsrConfig
from mifidelity.errors import MifidelityError
from mifidelity.types import Recording, StageInfo, Transcript


class Transcriber(Protocol):
    info: StageInfo

    def transcribe(
        self, recording: Recording, hook: Callable[[str, float], None] | None = None
    ) -> Transcript: ...


def get_transcriber(config: AsrConfig) -> Transcriber:
    """Build the recogniser named by ``config.engine``."""
    if config.engine == "faster-whisper":
        from mifidelity.transcription.faster_whisper_engine import FasterWhisperTranscriber

        return FasterWhisperTranscriber(config)
    raise MifidelityError(
        f"the ASR engine '{config.engine}' is not available in this version; use 'faster-whisper'"
    )
