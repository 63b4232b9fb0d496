"""The numpy mel/MFCC front-end computes what librosa computes with the same settings."""

import numpy as np
import pytest

from mifidelity.diarization import frontend

librosa = pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def speechlike():
    rng = np.random.default_rng(0)
    t = np.arange(int(7.3 * 16000)) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return (tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def test_mel_power_frames_match_librosa(speechlike):
    ours = frontend.mel_power_frames(speechlike, chunk_seconds=2.0)  # several chunks
    padded = np.pad(speechlike, (200, 200))
    theirs = librosa.feature.melspectrogram(y=padded, sr=16000, n_fft=400, hop_length=160, n_mels=40,
                                            center=False).T[: len(speechlike) // 160]
    assert ours.shape == theirs.shape == (len(speechlike) // 160, 40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * theirs.max())


def test_mfcc_frames_match_librosa(speechlike):
    ours = frontend.mfcc_frames(speechlike)
    padded = np.pad(speechlike, (200, 200))
    theirs = librosa.feature.mfcc(y=padded, sr=16000, n_mfcc=20, n_fft=400, hop_length=160, n_mels=40,
                                  center=False).T[: len(speechlike) // 160]
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-2 * np.abs(theirs).max())


def test_short_input_gives_empty_frames():
    assert frontend.mel_power_frames(np.zeros(100, np.float32)).shape == (0, 40)
    assert frontend.mfcc_frames(np.zeros(100, np.float32)).shape == (0, 20)


def test_mel_power_frames_do_not_depend_on_the_chunk_size(speechlike):
    # Chunks pad only themselves (never a copy of the whole recording): the frames at every chunk
    # edge and at both ends of the recording are the same as in one piece.
    whole = frontend.mel_power_frames(speechlike, chunk_seconds=3600.0)
    for seconds in (0.05, 0.33, 1.0):
        np.testing.assert_allclose(frontend.mel_power_frames(speechlike, chunk_seconds=seconds), whole, rtol=1e-5,
                                   atol=1e-6 * whole.max())


def test_mel_frames_with_a_gain_are_the_mel_frames_of_the_louder_audio(speechlike):
    from mifidelity.diarization.speaker_encoder import mel_frames

    np.testing.assert_allclose(mel_frames(speechlike, gain=3.0), mel_frames(speechlike * 3.0), rtol=1e-4, atol=1e-9)


def test_mel_power_frames_never_copy_the_whole_recording():
    import tracemalloc

    samples = np.random.default_rng(1).standard_normal(120 * 16000).astype(np.float32)  # 7.7 MB
    tracemalloc.start()
    try:
        frontend.mel_power_frames(samples, chunk_seconds=1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = (len(samples) // 160) * 40 * 4
    assert peak - output < 0.5 * samples.nbytes
