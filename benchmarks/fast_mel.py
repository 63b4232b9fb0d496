"""Proposed drop-in for ``mifidelity.diarization.embedding._mel_frames`` (numpy only, no librosa).

Profiling (docs/benchmarks.md, "Profiling") showed the embedding diariser's mel
features as a hotspot: importing librosa (lazy_loader + numba/beartype) and its
STFT take ~15 s per 10 minutes of audio on the loaded 2-core machine. This
computes the same features (Slaney mel filterbank, periodic Hann window,
n_fft 400, hop 160, 40 bands, |STFT|^2) with numpy in ~2.7 s; on the 10-minute
benchmark session the largest difference from librosa's output is 2e-6 (values up to 33).

    python benchmarks/fast_mel.py RECORDING.wav   # compares with the current implementation
"""

from __future__ import annotations

import sys
import time

import numpy as np

SAMPLE_RATE, N_FFT, HOP, N_MELS = 16000, 400, 160, 40   # resemblyzer.hparams


def _hz_to_mel(f):
    f = np.asarray(f, float)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), f / (200.0 / 3))


def _mel_to_hz(m):
    m = np.asarray(m, float)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels) with its defaults (Slaney scale and norm)."""
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    ramps = mel_f[:, None] - freqs[None, :]
    fdiff = np.diff(mel_f)
    lower, upper = -ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return (weights * (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]).astype(np.float32)


def mel_frames(samples: np.ndarray, chunk_frames: int = 6000) -> np.ndarray:
    """(n_frames, 40) mel power frames, frame i centred at i * 10 ms (same as _mel_frames)."""
    n_frames = len(samples) // HOP
    if n_frames == 0:
        return np.zeros((0, N_MELS), np.float32)
    half = N_FFT // 2
    padded = np.pad(samples.astype(np.float32), (half, half))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    weights = mel_filterbank().T
    taps = np.arange(N_FFT)[None, :]
    out = []
    for start in range(0, n_frames, chunk_frames):   # bounded memory on long recordings
        frames = padded[(np.arange(start, min(n_frames, start + chunk_frames)) * HOP)[:, None] + taps]
        power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
        out.append((power @ weights).astype(np.float32))
    return np.concatenate(out)


if __name__ == "__main__":
    import soundfile

    from mifidelity.diarization.embedding import _mel_frames

    audio, rate = soundfile.read(sys.argv[1], dtype="float32")
    audio = audio.mean(axis=1) if audio.ndim > 1 else audio
    began = time.perf_counter()
    fast = mel_frames(audio)
    middle = time.perf_counter()
    slow = _mel_frames(audio)
    end = time.perf_counter()
    n = min(len(fast), len(slow))
    print(f"numpy {middle - began:.2f} s, current {end - middle:.2f} s, "
          f"max |difference| {np.abs(fast[:n] - slow[:n]).max():.2e}, frames {len(fast)} vs {len(slow)}")
