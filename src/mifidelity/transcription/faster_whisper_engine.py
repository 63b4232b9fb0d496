"""The default recogniser: faster-whisper (CTranslate2) with word timestamps and VAD."""

from __future__ import annotations

import logging
from typing import Callable

from mifidelity.config import AsrConfig
from mifidelity.transcription.models import ResolvedModel, resolve_ctranslate2_model
from mifidelity.types import Recording, StageInfo, Transcript, Word

logger = logging.getLogger(__name__)

_MODEL_CACHE: dict[tuple, object] = {}


class FasterWhisperTranscriber:
    """Transcribe a :class:`Recording` into timed words with faster-whisper.

    The model is loaded once per process and shared by every recording.
    """

    def __init__(self, config: AsrConfig):
        self.config = config
        self.resolved: ResolvedModel = resolve_ctranslate2_model(
            config.model, config.download_root, config.local_files_only
        )
        import faster_whisper

        self.info = StageInfo(
            engine="faster-whisper",
            model=f"{self.resolved.name} ({self.resolved.origin})",
            version=f"faster-whisper {faster_whisper.__version__}; model {self.resolved.version}",
        )

    def _model(self):
        from faster_whisper import WhisperModel

        key = (str(self.resolved.path), self.config.compute_type, self.config.cpu_threads)
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = WhisperModel(
                str(self.resolved.path), device="cpu", compute_type=self.config.compute_type,
                cpu_threads=self.config.cpu_threads, local_files_only=True,
            )
        return _MODEL_CACHE[key]

    def transcribe(
        self, recording: Recording, hook: Callable[[str, float], None] | None = None
    ) -> Transcript:
        """Recognise the recording's words.

        Parameters
        ----------
        recording:
            Decoded audio (mono 16 kHz is used).
        hook:
            Called as ``hook("transcribe", fraction_done)`` as segments arrive.
        """
        model = self._model()
        language = self.config.language
        if language and self.resolved.name.endswith(".en") and language != "en":
            logger.warning("model %s is English-only; ignoring language=%s", self.resolved.name, language)
            language = "en"
        segments, info = model.transcribe(
            recording.samples,
            language=language,
            beam_size=self.config.beam_size,
            word_timestamps=True,
            vad_filter=self.config.vad_filter,
            condition_on_previous_text=False,
        )
        words: list[Word] = []
        duration = max(recording.duration, 1e-6)
        for segment in segments:  # lazy generator: decoding happens as we iterate
            for w in segment.words or []:
                text = w.word.strip()
                if text:
                    words.append(Word(float(w.start), float(w.end), text, float(w.probability)))
            if hook:
                hook("transcribe", min(1.0, segment.end / duration))
        return Transcript(words=words, language=info.language, info=self.info)
