"""Coach voice profiles: one speaker's mean GE2E embedding, saved as ``.npy``.

With ``diarization.embedding.voice_profile`` set, the embedding diariser names
the speaker whose voice is closest to the profile ``SPEAKER_00``.
:func:`speaker_embeddings` gives each diarised speaker's voice in the same
form, so the roles stage can compare them with a coach's profile
(:mod:`mifidelity.coach_voices`) whatever diariser made the turns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from mifidelity.diarization import vad
from mifidelity.diarization.clustering import unit_vectors
from mifidelity.diarization.frames import FRAME_SECONDS, HOP
from mifidelity.diarization.speaker_encoder import (
    EMBEDDING_SIZE,
    MODEL_NAME,
    embed_windows,
    mel_frames,
    speech_gain,
)
from mifidelity.errors import MifidelityError
from mifidelity.types import SAMPLE_RATE, SpeakerTurn

_MIN_SPEECH_SECONDS = 2.0
# 1.6 s windows every 0.8 s: longer than the diariser's, since one voice needs no boundaries.
_WINDOW_FRAMES, _STEP_FRAMES = 160, 80
# Per speaker, at most this much of their speech is embedded: plenty for a stable mean,
# and the cost stays flat however long the session (about 1 s of CPU for two speakers).
SPEAKER_SECONDS = 60.0
# Turn edges are where a diariser errs (the other voice, a breath): each turn is trimmed by this.
_EDGE_SECONDS = 0.15


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
    mel = mel_frames(samples, speech_gain(samples, speech))[:n_frames]
    return _mean_embedding(mel[np.flatnonzero(speech)[: len(mel)]])


def _mean_embedding(stream: np.ndarray) -> np.ndarray:
    """The mean GE2E embedding (unit vector) of overlapping windows over mel frames of one voice."""
    length = min(_WINDOW_FRAMES, len(stream))
    starts = np.arange(0, len(stream) - length + 1, _STEP_FRAMES)
    return unit_vectors(embed_windows(stream, starts, length).mean(axis=0)).astype(np.float32)


def _embed_speech(samples: np.ndarray) -> np.ndarray:
    """The mean GE2E embedding (unit vector) of audio that is all speech of one voice."""
    n_frames = len(samples) // HOP
    return _mean_embedding(mel_frames(samples, speech_gain(samples, np.ones(n_frames, dtype=bool)))[:n_frames])


def speaker_embeddings(
    samples: np.ndarray,
    turns: Sequence[SpeakerTurn],
    sample_rate: int = SAMPLE_RATE,
    max_seconds: float = SPEAKER_SECONDS,
    min_seconds: float = _MIN_SPEECH_SECONDS,
) -> dict[str, np.ndarray]:
    """Each diarised speaker's voice: the mean GE2E embedding of (the middle of) their turns.

    Parameters
    ----------
    samples:
        The recording's mono 16 kHz audio.
    turns:
        Who spoke when (any diariser).
    max_seconds:
        Embed at most this much of each speaker's speech, taken evenly from the
        middle of all their turns (so the cost does not grow with the session).
    min_seconds:
        Speakers with less speech than this (after trimming turn edges) are left out.

    Returns
    -------
    dict
        Speaker label -> unit vector of 256 floats, comparable with :func:`compute_voice_profile`.
    """
    if sample_rate != SAMPLE_RATE:
        raise MifidelityError(f"voice profiles need {SAMPLE_RATE} Hz audio")
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    voices: dict[str, np.ndarray] = {}
    for speaker in sorted({t.speaker for t in turns}):
        spans = [(t.start + _EDGE_SECONDS, t.end - _EDGE_SECONDS) for t in turns if t.speaker == speaker]
        spans = [(a, b) for a, b in spans if b - a >= 0.5]
        total = sum(b - a for a, b in spans)
        if total < min_seconds:
            continue
        keep = min(1.0, max_seconds / total)
        pieces = []
        for a, b in spans:
            middle, half = 0.5 * (a + b), 0.5 * (b - a) * keep
            pieces.append(samples[int((middle - half) * sample_rate):int((middle + half) * sample_rate)])
        voices[speaker] = _embed_speech(np.concatenate(pieces))
    return voices


def save_voice_profile(profile: np.ndarray, path: str | Path) -> None:
    """Write a voice profile to an ``.npy`` file, owner-only and atomically."""
    import io

    from mifidelity.files import write_private_atomic

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(profile, dtype=np.float32))
    write_private_atomic(path, buffer.getvalue())


def load_voice_profile(path: str | Path) -> np.ndarray:
    """Read a voice profile written by :func:`save_voice_profile`, or a coach's profile (``.npz``, see coach_voices)."""
    try:
        profile = np.load(Path(path), allow_pickle=False)
        if isinstance(profile, np.lib.npyio.NpzFile):
            with profile:
                profile = profile["embedding"]
    except (OSError, ValueError, KeyError) as exc:
        raise MifidelityError(f"cannot read voice profile {path}: {exc}") from None
    profile = np.asarray(profile, dtype=np.float64).reshape(-1)
    if profile.shape != (EMBEDDING_SIZE,):
        raise MifidelityError(f"voice profile {path} is not a {MODEL_NAME} embedding (256 floats)")
    return unit_vectors(profile)
