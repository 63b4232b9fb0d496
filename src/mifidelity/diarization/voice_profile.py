"""Coach voice profiles: one speaker's mean GE2E embedding, saved as ``.npy``.

With ``diarization.embedding.voice_profile`` set, the embedding diariser names
the speaker whose voice is closest to the profile ``SPEAKER_00``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mifidelity.diarization import vad
from mifidelity.diarization.clustering import unit_vectors
from mifidelity.diarization.frames import FRAME_SECONDS, HOP, SAMPLE_RATE
from mifidelity.diarization.speaker_encoder import (
    EMBEDDING_SIZE,
    MODEL_NAME,
    embed_windows,
    mel_frames,
    normalise_gain,
)
from mifidelity.errors import MifidelityError

_MIN_SPEECH_SECONDS = 2.0
# 1.6 s windows every 0.8 s: longer than the diariser's, since one voice needs no boundaries.
_WINDOW_FRAMES, _STEP_FRAMES = 160, 80


def compute_voice_profile(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A speaker's voice profile: the mean GE2E embedding of their speech.

    Parameters
    ----------
    samples:
        Mono float32 16 kHz audio of one person speaking (ideally 30 s or more).

    Returns
    -------
    numpy.ndarray
        A unit vector of 256 floats.
    """
    if sample_rate != SAMPLE_RATE:
        raise MifidelityError(f"voice profiles need {SAMPLE_RATE} Hz audio")
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    n_frames = len(samples) // HOP
    speech = vad.speech_frames(samples, 0.5, 0.35, n_frames)
    if speech.sum() * FRAME_SECONDS < _MIN_SPEECH_SECONDS:
        raise MifidelityError("need at least 2 seconds of speech to build a voice profile")
    mel = mel_frames(normalise_gain(samples, speech))[:n_frames]
    stream = mel[np.flatnonzero(speech)[: len(mel)]]
    length = min(_WINDOW_FRAMES, len(stream))
    starts = np.arange(0, len(stream) - length + 1, _STEP_FRAMES)
    return unit_vectors(embed_windows(stream, starts, length).mean(axis=0)).astype(np.float32)


def save_voice_profile(profile: np.ndarray, path: str | Path) -> None:
    """Write a voice profile to an ``.npy`` file."""
    np.save(Path(path), np.asarray(profile, dtype=np.float32))


def load_voice_profile(path: str | Path) -> np.ndarray:
    """Read a voice profile written by :func:`save_voice_profile`."""
    try:
        profile = np.load(Path(path))
    except (OSError, ValueError) as exc:
        raise MifidelityError(f"cannot read voice profile {path}: {exc}") from None
    profile = np.asarray(profile, dtype=np.float64).reshape(-1)
    if profile.shape != (EMBEDDING_SIZE,):
        raise MifidelityError(f"voice profile {path} is not a {MODEL_NAME} embedding (256 floats)")
    return unit_vectors(profile)
