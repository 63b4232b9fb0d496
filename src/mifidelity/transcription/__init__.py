"""Stage 2: speech recognition engines behind one protocol.

``get_transcriber(config).transcribe(recording, hook) -> Transcript``
"""

from __future__ import annotations

from typing import Protocol

from mifidelity.config import AsrConfig
from mifidelity.errors import MifidelityError
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
    """Build the recogniser named by ``config.engine``."""
    if config.engine == "faster-whisper":
        from mifidelity.transcription.faster_whisper_engine import FasterWhisperTranscriber

        return FasterWhisperTranscriber(config)
    if config.engine == "openai-whisper":
        import importlib.util

        if importlib.util.find_spec("whisper") is None:
            raise MifidelityError(
                "the openai-whisper engine needs the openai-whisper package: pip install openai-whisper"
            )
        from mifidelity.transcription.openai_whisper_engine import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(config)
    raise MifidelityError(
        f"the ASR engine '{config.engine}' is not available; use 'faster-whisper' or 'openai-whisper'"
    )
