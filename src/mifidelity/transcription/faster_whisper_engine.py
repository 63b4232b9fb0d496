"""The default recogniser: faster-whisper (CTranslate2) with word timestamps and VAD."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from mifidelity.config import AsrConfig
from mifidelity.transcription.models import ResolvedModel, resolve_ctranslate2_model
from mifidelity.types import ProgressHook, Recording, StageInfo, Transcript, Word

logger = logging.getLogger(__name__)

_MODEL_CACHE: dict[tuple, object] = {}

CHUNK_SECONDS = 300.0   # longest piece transcribed at once: its features are computed whole (about 120 MB
# at 5 minutes, twice that at 10); WER on two held-out recordings (40 min) 0.0932 vs 0.0929 with 10 (issue 26)
CUT_SEARCH_SECONDS = 10.0  # look this far either side of a chunk boundary for the quietest 100 ms


def worker_plan(config: AsrConfig, cores: int | None = None) -> tuple[int, int]:
    """(workers, CPU threads per worker) for ``config`` on a machine with ``cores`` cores (default: this one's).

    Greedy decoding keeps two threads of one worker only 1.5 cores busy (they wait for each other at every
    step), while two one-thread workers on different pieces keep both cores busy: on 2 cores a 17-minute
    recording is transcribed in 13.0 s instead of 18.2 s (docs/benchmarks.md). A batch runs as many
    recordings at once (:func:`mifidelity.pipeline.lanes.recording_lanes`).
    """
    cores = cores or os.cpu_count() or 1
    workers = config.workers or min(2, cores)
    return workers, config.cpu_threads or max(1, cores // workers)


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
        self.workers, self.threads = worker_plan(config)
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

        key = (str(self.resolved.path), self.config.compute_type, self.workers, self.threads)
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = WhisperModel(
                str(self.resolved.path), device="cpu", compute_type=self.config.compute_type,
                cpu_threads=self.threads, num_workers=self.workers, local_files_only=True,
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
        if self.resolved.name.endswith(".en"):
            if language not in (None, "en"):
                logger.warning("model %s is English-only; ignoring language=%s", self.resolved.name, language)
            language = "en"
        rate = recording.sample_rate
        pieces = chunk_bounds(recording.samples, rate, CHUNK_SECONDS)
        progress = _PieceProgress(hook, max(recording.duration, 1e-6), len(pieces))

        def piece(index: int, language: str | None) -> tuple[list[Word], str]:
            begin, end = pieces[index]
            return self._transcribe_piece(model, recording.samples[begin:end], begin / rate, language,
                                          lambda seconds: progress.update(index, seconds))

        # faster-whisper computes the features of everything it is given at once, so memory would grow with the
        # session (~60 MB per minute); long recordings go in pieces cut in silence, and the workers take them in
        # turn. Where the language is to be detected, the first piece decides it for the others.
        results = [piece(0, language)] if language is None else []
        language = language or results[0][1]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="asr-worker") as pool:
            results += list(pool.map(lambda index: piece(index, language), range(len(results), len(pieces))))
        words = [word for piece_words, _ in results for word in piece_words]
        return Transcript(words=words, language=language, info=self.info)

    def _transcribe_piece(self, model, samples, offset: float, language: str | None,
                          progress) -> tuple[list[Word], str]:
        """The words of one piece (times from the start of the recording) and its language."""
        segments, info = model.transcribe(
            samples,
            language=language,
            beam_size=self.config.beam_size,
            word_timestamps=True,
            vad_filter=self.config.vad_filter,
            condition_on_previous_text=False,
        )
        words: list[Word] = []
        for segment in segments:  # lazy generator: decoding happens as we iterate
            for w in segment.words or []:
                text = w.word.strip()
                if text:
                    words.append(Word(float(w.start) + offset, float(w.end) + offset, text, float(w.probability)))
            progress(segment.end)
        return words, info.language


class _PieceProgress:
    """One fraction done for the whole recording, from the workers' pieces (called from their threads)."""

    def __init__(self, hook: ProgressHook | None, duration: float, pieces: int):
        self.hook, self.duration, self.done = hook, duration, [0.0] * pieces
        self.lock = threading.Lock()

    def update(self, index: int, seconds: float) -> None:
        if self.hook is None:
            return
        with self.lock:
            self.done[index] = seconds
            self.hook("transcribe", min(1.0, sum(self.done) / self.duration))
