"""Resemblyzer's GE2E speaker encoder: loading it once, and embedding windows of speech.

The weights ship inside the ``Resemblyzer`` wheel, so nothing is downloaded.
The encoder maps a window of mel frames (10 ms each) to a 256-float unit
vector; windows of one voice land close together (cosine similarity).
"""

from __future__ import annotations

import logging
import threading
from importlib import metadata
from typing import Callable

import numpy as np

from mifidelity import cpu_has_native_bf16
from mifidelity.diarization import frontend
from mifidelity.diarization.frames import HOP
from mifidelity.errors import MifidelityError

logger = logging.getLogger(__name__)

MODEL_NAME = "resemblyzer-ge2e"
EMBEDDING_SIZE = 256
# A window shorter than this carries too little voice to embed reliably.
MIN_EMBED_SECONDS = 0.4
_MEL_CHUNK_SECONDS = 60.0
_EMBED_BATCH = 128
# Resemblyzer's training normalised every utterance to this loudness.
_TARGET_DBFS = -30.0

_encoder = None
_encoder_lock = threading.Lock()


def package_version() -> str:
    """The installed Resemblyzer version (the encoder's weights come with it)."""
    try:
        return metadata.version("Resemblyzer")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def get_encoder():
    """Load Resemblyzer's GE2E encoder once per process (CPU)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            try:
                from resemblyzer import VoiceEncoder
            except ImportError as exc:
                raise MifidelityError(
                    "the embedding diariser needs the Resemblyzer package "
                    "(pip install Resemblyzer==0.1.4); or use diarization.engine: channels"
                ) from exc
            logger.info("loading Resemblyzer speaker encoder")
            _encoder = VoiceEncoder(device="cpu", verbose=False)
            _encoder.eval()
    return _encoder


def speech_gain(samples: np.ndarray, speech: np.ndarray) -> float:
    """The gain that puts speech (``speech``: a mask per 10 ms frame) at the loudness the encoder was trained on."""
    frames = samples[: len(speech) * HOP].reshape(-1, HOP)
    total, count = 0.0, 0
    for start in range(0, len(frames), 6000):  # a minute at a time: no float64 copy of the whole recording
        chosen = frames[start:start + 6000][speech[start:start + 6000]]
        total += float(np.square(chosen, dtype=np.float64).sum())
        count += chosen.size
    rms = float(np.sqrt(total / count)) if count else 0.0
    if rms < 1e-6:
        return 1.0
    return 10 ** (_TARGET_DBFS / 20) / rms


def mel_frames(samples: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Resemblyzer's mel features of ``samples * gain``, (n_frames, 40): frame ``i`` is centred at ``i * 10 ms``.

    Mel power is quadratic in the amplitude, so the gain scales the features (by ``gain ** 2``)
    instead of a scaled copy of the whole recording (250 MB an hour).
    """
    mel = frontend.mel_power_frames(samples, chunk_seconds=_MEL_CHUNK_SECONDS)
    if gain != 1.0:
        mel *= np.float32(gain * gain)
    return mel


def embed_windows(mel: np.ndarray, starts: np.ndarray, length: int, threads: int = 1,
                  progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Embed ``mel[s:s+length]`` for each start, in batches; (n, 256) unit vectors."""
    import torch

    encoder = get_encoder()
    out = np.zeros((len(starts), EMBEDDING_SIZE), dtype=np.float32)
    idx = np.arange(length)
    # torch's multi-threaded LSTM collapses (10x slower) when another stage or
    # process already keeps a core busy; the small model runs well on a set
    # thread count, restored afterwards for the rest of the pipeline.
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    # bfloat16 where the CPU computes it natively: the LSTM takes a third of the time (0.66 -> 0.20 s for
    # two minutes of windows, one thread), each embedding within cosine 0.997 (mean 0.99994) of float32's;
    # DER unchanged (docs/benchmarks.md, issue 26). Renormalised in float32 (the encoder's last step ran in bf16).
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_native_bf16()):
            for b in range(0, len(starts), _EMBED_BATCH):
                batch = mel[starts[b : b + _EMBED_BATCH, None] + idx[None, :]]
                vectors = encoder(torch.from_numpy(batch)).float()
                out[b : b + len(batch)] = torch.nn.functional.normalize(vectors, dim=1).numpy()
                if progress and (b // _EMBED_BATCH) % 10 == 9:
                    progress(min(1.0, (b + len(batch)) / len(starts)))
    finally:
        torch.set_num_threads(previous)
    return out
