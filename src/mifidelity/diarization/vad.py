"""Voice activity detection with the Silero VAD model that faster-whisper bundles.

faster-whisper ships ``silero_vad_v6.onnx`` inside its wheel (``faster_whisper/assets``),
so this needs no download. We use the raw per-frame speech probabilities (one per
32 ms) rather than faster-whisper's own segmenter, whose 400 ms padding and 2 s
silence bridging suit ASR but blur speaker-turn boundaries.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from mifidelity.diarization.frames import FRAME_SECONDS
from mifidelity.errors import MifidelityError
from mifidelity.types import SAMPLE_RATE

logger = logging.getLogger(__name__)

VAD_FRAME_SAMPLES = 512  # Silero's hop at 16 kHz: 32 ms
VAD_FRAME_SECONDS = VAD_FRAME_SAMPLES / SAMPLE_RATE
# Silero keeps an LSTM state across frames; chunking long audio bounds memory
# (the onnx wrapper builds a (frames, 576) batch) at the cost of a state reset
# every chunk, which is harmless at 10 minutes.
_CHUNK_SECONDS = 600.0

_model = None
_model_lock = threading.Lock()


def _get_model():
    """Load the bundled Silero onnx model once per process."""
    global _model
    with _model_lock:
        if _model is None:
            try:
                from faster_whisper.vad import get_vad_model
            except ImportError as exc:  # pragma: no cover - faster-whisper is a core dependency
                raise MifidelityError(
                    "the embedding diariser needs faster-whisper (it ships the Silero VAD model)"
                ) from exc
            _model = get_vad_model()
    return _model


def speech_probabilities(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Silero speech probability for every 32 ms frame of ``samples``.

    Parameters
    ----------
    samples:
        Mono float32 waveform at 16 kHz.
    sample_rate:
        Must be 16000.

    Returns
    -------
    numpy.ndarray
        ``ceil(len(samples) / 512)`` probabilities in [0, 1]; frame ``i`` covers
        ``[i * 0.032, (i + 1) * 0.032)`` seconds.
    """
    if sample_rate != SAMPLE_RATE:
        raise MifidelityError(f"VAD needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) == 0:
        return np.zeros(0, dtype=np.float32)
    model = _get_model()
    chunk = int(_CHUNK_SECONDS * sample_rate) // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES
    probs = []
    for start in range(0, len(samples), chunk):
        piece = samples[start : start + chunk]
        pad = (-len(piece)) % VAD_FRAME_SAMPLES
        if pad:
            piece = np.pad(piece, (0, pad))
        probs.append(np.asarray(model(piece), dtype=np.float32).reshape(-1))
    return np.concatenate(probs)


def hysteresis(probs: np.ndarray, onset: float, offset: float) -> np.ndarray:
    """Binary speech mask: switch on above ``onset``, off below ``offset``.

    Two thresholds avoid chattering when the probability hovers near one value.
    """
    mask = np.zeros(len(probs), dtype=bool)
    active = False
    for i, p in enumerate(probs):
        if active:
            active = p >= offset
        else:
            active = p >= onset
        mask[i] = active
    return mask


def speech_frames(samples: np.ndarray, onset: float, offset: float, n_frames: int) -> np.ndarray:
    """Speech or not for each of ``n_frames`` 10 ms frames (the diariser's grid).

    Silero's 32 ms probabilities are thresholded with :func:`hysteresis` and
    each 10 ms frame takes the decision of the VAD frame holding its centre.
    """
    return frames_from_probabilities(speech_probabilities(samples), onset, offset, n_frames)


def frames_from_probabilities(probs: np.ndarray, onset: float, offset: float, n_frames: int) -> np.ndarray:
    """:func:`speech_frames` from probabilities already computed (one Silero pass, several thresholds)."""
    mask32 = hysteresis(probs, onset, offset)
    if not len(mask32):
        return np.zeros(n_frames, dtype=bool)
    centres = (np.arange(n_frames) + 0.5) * FRAME_SECONDS
    idx = np.minimum((centres / VAD_FRAME_SECONDS).astype(int), len(mask32) - 1)
    return mask32[idx]
