"""The default recogniser: faster-whisper (CTranslate2) with word timestamps and VAD."""

from __future__ import annotations

import logging

from mifidelity.config import AsrConfig
from mifidelity.transcription.models import ResolvedModel, resolve_ctranslate2_model
from mifidelity.types import ProgressHook, Recording, StageInfo, Transcript, Word

logger = logging.getLogger(__name__)

_MODEL_CACHE: dict[tuple, object] = {}

CHUNK_SECONDS = 300.0   # longest piece transcribed at once: its features are computed whole (about 120 MB
# at 5 minutes, twice that at 10); WER on two held-out recordings (40 min) 0.0932 vs 0.0929 with 10 (issue 26)
CUT_SEARCH_SECONDS = 10.0  # look this far either side of a chunk boundary for the quietest 100 ms


def chunk_bounds(samples, rate: int, chunk_seconds: float = CHUNK_SECONDS,
                 search_seconds: float = CUT_SEARCH_SECONDS) -> list[tuple[int, int]]:
    """Sample ranges of at most about ``chunk_seconds``, each cut at the quietest 100 ms near the boundary."""
    import numpy as np

    total, size = len(samples), int(chunk_seconds * rate)
    if total <= size + int(search_seconds * rate):
        return [(0, total)]
    frame = max(1, rate // 10)
    cuts, begin = [0], 0
    while total - begin > size + int(search_seconds * rate):
        lo = begin + size - int(search_seconds * rate)
        hi = begin + size + int(search_seconds * rate)
        n = (hi - lo) // frame
        energy = np.square(samples[lo: lo + n * frame].reshape(n, frame).astype(np.float32)).mean(axis=1)
        begin = lo + int(np.argmin(energy)) * frame + frame // 2
        cuts.append(begin)
    cuts.append(total)
    return list(zip(cuts[:-1], cuts[1:]))


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

    def load(self) -> "FasterWhisperTranscriber":
        """Load the model now (otherwise on first use); shared by every instance in the process."""
        self._model()
        return self

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
        self, recording: Recording, hook: ProgressHook | None = None
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
        words: list[Word] = []
        duration = max(recording.duration, 1e-6)
        rate = recording.sample_rate
        detected = None
        # faster-whisper computes the features of everything it is given at once, so memory would
        # grow with the session (~60 MB per minute); long recordings go in chunks cut in silence.
        for begin, end in chunk_bounds(recording.samples, rate, CHUNK_SECONDS):
            offset = begin / rate
            segments, info = model.transcribe(
                recording.samples[begin:end],
                language=language or detected,   # later chunks keep the first chunk's language
                beam_size=self.config.beam_size,
                word_timestamps=True,
                vad_filter=self.config.vad_filter,
                condition_on_previous_text=False,
            )
            detected = detected or info.language
            for segment in segments:  # lazy generator: decoding happens as we iterate
                for w in segment.words or []:
                    text = w.word.strip()
                    if text:
                        words.append(Word(float(w.start) + offset, float(w.end) + offset, text,
                                          float(w.probability)))
                if hook:
                    hook("transcribe", min(1.0, (segment.end + offset) / duration))
        info_language = detected or language or "en"
        return Transcript(words=words, language=info_language, info=self.info)
