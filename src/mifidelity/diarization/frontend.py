"""Frame features for the embedding diariser: mel power frames and MFCCs, with numpy only.

Both are what librosa computes with the same settings (Slaney mel filterbank,
periodic Hann window, 25 ms window, 10 ms hop, power spectrum; MFCC = DCT-II of
the dB mel spectrum clipped 80 dB below its peak), checked against librosa in
``tests/diarization/test_frontend.py``. librosa itself is not used at run time:
its numba-compiled kernels cost ~15 s on the first call of every process on a
2-core machine, longer than the whole diarisation of a short session.

Frame ``i`` is centred at ``i * 10 ms``; recordings are processed in chunks so
a long one never needs one huge STFT in memory.
"""

from __future__ import annotations

import numpy as np

from mifidelity.diarization.frames import HOP
from mifidelity.types import SAMPLE_RATE

N_FFT = 400      # 25 ms
N_MELS = 40


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, float)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0),
                    f / (200.0 / 3))


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, float)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """``(n_mels, n_fft // 2 + 1)``: librosa.filters.mel with its defaults (Slaney scale and area norm)."""
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    ramps = mel_f[:, None] - freqs[None, :]
    fdiff = np.diff(mel_f)
    lower, upper = -ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return (weights * (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]).astype(np.float32)


def mel_power_frames(samples: np.ndarray, n_mels: int = N_MELS, chunk_seconds: float = 60.0) -> np.ndarray:
    """``(len(samples) // HOP, n_mels)`` mel power frames (float32)."""
    n_frames = len(samples) // HOP
    if n_frames == 0:
        return np.zeros((0, n_mels), np.float32)
    samples = np.asarray(samples, np.float32)
    half = N_FFT // 2
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    weights = mel_filterbank(n_mels=n_mels).T
    taps = (np.arange(N_FFT) - half)[None, :]
    chunk = max(1, int(chunk_seconds * SAMPLE_RATE) // HOP)
    out = np.empty((n_frames, n_mels), np.float32)
    for start in range(0, n_frames, chunk):
        stop = min(n_frames, start + chunk)
        # Frame i reads samples i * HOP - half ... i * HOP + half - 1, zeros beyond the recording's
        # ends (librosa's centred frames): a padded copy of each chunk only, never of the whole.
        first, last = start * HOP - half, (stop - 1) * HOP + half
        piece = np.zeros(last - first, np.float32)
        lo, hi = max(first, 0), min(last, len(samples))
        piece[lo - first: hi - first] = samples[lo:hi]
        frames = piece[(np.arange(stop - start) * HOP)[:, None] + taps + half]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
        out[start:stop] = power @ weights
    return out


def mfcc_frames(samples: np.ndarray, n_mfcc: int = 20, chunk_seconds: float = 300.0) -> np.ndarray:
    """``(len(samples) // HOP, n_mfcc)`` MFCCs from 40 mel bands (float32).

    The 80 dB floor is taken per ``chunk_seconds`` of audio, as librosa does per call.
    """
    from scipy.fft import dct

    mel = mel_power_frames(samples, N_MELS, chunk_seconds=min(chunk_seconds, 60.0))
    if len(mel) == 0:
        return np.zeros((0, n_mfcc), np.float32)
    chunk = max(1, int(chunk_seconds * SAMPLE_RATE) // HOP)
    out = []
    for start in range(0, len(mel), chunk):
        db = 10.0 * np.log10(np.maximum(mel[start:start + chunk].astype(np.float64), 1e-10))
        db = np.maximum(db, db.max() - 80.0)
        out.append(dct(db, type=2, axis=1, norm="ortho")[:, :n_mfcc].astype(np.float32))
    return np.concatenate(out)
