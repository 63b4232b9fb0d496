"""The offline embedding diariser, on the real telephone excerpt that ships inside pyannote.audio.

Offline and CPU-only: the VAD (faster-whisper's bundled Silero) and the speaker
encoder (Resemblyzer's bundled GE2E) load from installed wheels.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mifidelity import cpu_has_native_bf16
from mifidelity.config import DiarizationConfig, EmbeddingDiarizerConfig
from mifidelity.types import Recording

pytest.importorskip("resemblyzer")
pytest.importorskip("faster_whisper")
pytest.importorskip("pyannote.metrics")

from mifidelity.diarization.embedding import EmbeddingDiarizer  # noqa: E402
from mifidelity.diarization.voice_profile import (  # noqa: E402
    compute_voice_profile,
    load_voice_profile,
    save_voice_profile,
)

# Measured on the sample with the defaults (benchmarks/diarization_der.py):
# strict DER (collar 0, overlap scored) 0.132 (0.138 before the quieter-speech
# level of the VAD, issue 18), of which ~0.08 is missed overlapped speech that a
# one-label-per-frame diariser cannot get; lenient DER (0.25 s collar, overlap
# skipped) 0.029 (was 0.038). Neighbouring settings (window/step/penalty) land at 0.16-0.19 strict; chance-level
# clustering of raw 1.5 s embeddings is ~0.45. The bounds leave room for
# BLAS/thread nondeterminism and library updates, and fail on a real regression.
MAX_STRICT_DER = 0.23
MAX_LENIENT_DER = 0.12


def _sample_paths() -> tuple[Path, Path]:
    spec = importlib.util.find_spec("pyannote.audio")
    folder = Path(list(spec.submodule_search_locations)[0]) / "sample"
    return folder / "sample.wav", folder / "sample.rttm"


def _recording(samples: np.ndarray, channels: np.ndarray | None = None) -> Recording:
    samples = np.asarray(samples, dtype=np.float32)
    return Recording("test.wav", samples, 16000, samples[None] if channels is None else channels, "0")


@pytest.fixture(scope="module")
def sample() -> tuple[Recording, object]:
    import soundfile as sf
    from pyannote.core import Annotation, Segment

    wav, rttm = _sample_paths()
    data, rate = sf.read(str(wav), dtype="float32")
    assert rate == 16000
    ref = Annotation()
    for line in rttm.read_text().splitlines():
        parts = line.split()
        start, dur = float(parts[3]), float(parts[4])
        ref[Segment(start, start + dur)] = parts[7]
    return _recording(data), ref


@pytest.fixture(scope="module")
def sample_result(sample):
    rec, _ = sample
    steps = []
    result = EmbeddingDiarizer(DiarizationConfig()).diarize(rec, hook=lambda s, f: steps.append((s, f)))
    return result, steps


def _der(ref, turns, duration, **kwargs) -> float:
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    hyp = Annotation()
    for t in turns:
        hyp[Segment(t.start, t.end)] = t.speaker
    return DiarizationErrorRate(**kwargs)(ref, hyp, uem=Timeline([Segment(0, duration)]))


def test_der_on_pyannote_sample(sample, sample_result):
    rec, ref = sample
    result, _ = sample_result
    strict = _der(ref, result.turns, rec.duration, collar=0.0, skip_overlap=False)
    lenient = _der(ref, result.turns, rec.duration, collar=0.25, skip_overlap=True)
    assert strict < MAX_STRICT_DER, f"strict DER {strict:.3f}"
    assert lenient < MAX_LENIENT_DER, f"lenient DER {lenient:.3f}"


def test_output_shape(sample_result):
    result, steps = sample_result
    turns = result.turns
    assert turns, "no turns"
    assert result.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert result.info.engine == "embedding"
    for a, b in zip(turns[:-1], turns[1:]):
        assert a.start < a.end <= b.start, (a, b)
    assert all(t.start >= 0 and t.end <= 30.0 + 1e-6 for t in turns)
    assert steps and steps[-1] == ("diarize", 1.0)


def test_silence_gives_empty_turns_and_a_note():
    result = EmbeddingDiarizer(DiarizationConfig()).diarize(_recording(np.zeros(16000 * 5)))
    assert result.turns == []
    assert any("No speech" in n for n in result.notes)


def test_empty_and_tiny_input():
    dz = EmbeddingDiarizer(DiarizationConfig())
    assert dz.diarize(_recording(np.zeros(0))).turns == []
    assert dz.diarize(_recording(np.zeros(100))).turns == []


def test_one_second_clip(sample):
    rec, _ = sample
    clip = rec.samples[int(11.0 * 16000) : int(12.0 * 16000)]
    result = EmbeddingDiarizer(DiarizationConfig()).diarize(_recording(clip))
    assert len(result.speakers) <= 1
    for t in result.turns:
        assert 0 <= t.start < t.end <= 1.0 + 1e-6


def test_stereo_recording(sample):
    rec, _ = sample
    stereo = np.stack([rec.samples, rec.samples * 0.5])
    result = EmbeddingDiarizer(DiarizationConfig()).diarize(_recording(rec.samples, stereo))
    assert len(result.speakers) == 2


def test_num_speakers_respected(sample):
    rec, _ = sample
    one = EmbeddingDiarizer(DiarizationConfig(num_speakers=1)).diarize(rec)
    assert one.speakers == ["SPEAKER_00"]
    three = EmbeddingDiarizer(DiarizationConfig(num_speakers=3)).diarize(rec)
    assert 2 <= len(three.speakers) <= 3
    auto = EmbeddingDiarizer(DiarizationConfig(num_speakers=None, min_speakers=1, max_speakers=4)).diarize(rec)
    assert 1 <= len(auto.speakers) <= 4


def test_voice_profile_labels_the_coach_first(sample, sample_result, tmp_path):
    rec, _ = sample
    result, _ = sample_result
    # Profile the speaker who is *second* to talk, then expect them as SPEAKER_00.
    target = "SPEAKER_01"
    mine = [t for t in result.turns if t.speaker == target]
    pieces = [rec.samples[int(t.start * 16000) : int(t.end * 16000)] for t in mine]
    profile = compute_voice_profile(np.concatenate(pieces))
    path = tmp_path / "coach.npy"
    save_voice_profile(profile, path)
    assert np.allclose(load_voice_profile(path), profile, atol=1e-6)
    config = DiarizationConfig(embedding=EmbeddingDiarizerConfig(voice_profile=str(path)))
    with_profile = EmbeddingDiarizer(config).diarize(rec)
    longest = max(mine, key=lambda t: t.end - t.start)
    middle = 0.5 * (longest.start + longest.end)
    assert next(t.speaker for t in with_profile.turns if t.start <= middle < t.end) == "SPEAKER_00"
    assert any("Voice profile" in n for n in with_profile.notes)


def test_quieter_speech_is_labelled_not_embedded(sample, sample_result):
    # The low VAD level adds speech around and between the confident speech; with it off
    # (vad_low_onset: null) only the confident speech gets a speaker.
    rec, _ = sample
    result, _ = sample_result
    off = EmbeddingDiarizer(DiarizationConfig(embedding=EmbeddingDiarizerConfig(vad_low_onset=None))).diarize(rec)
    speech = lambda turns: sum(t.end - t.start for t in turns)  # noqa: E731
    assert speech(result.turns) > speech(off.turns) + 0.2
    assert off.speakers == result.speakers == ["SPEAKER_00", "SPEAKER_01"]


def test_one_voice_told_two_speakers_stays_one_with_the_auto_score_space(sample):
    # The first speaker's solo speech from the sample (with up to 0.2 s of silence around it, nobody else
    # within 0.1 s), spliced: told there are two speakers, the centred space splits the voice about
    # 55/45; labelled in the raw space it stays one speaker (measured: 100%), and the auto space keeps
    # that result because the shares are uneven.
    rec, ref = sample
    t = np.arange(len(rec.samples) // 160) * 0.01 + 0.005
    first = sorted(ref.labels())[0]
    solo, others = np.zeros(len(t), bool), np.zeros(len(t), bool)
    for segment, _, label in ref.itertracks(yield_label=True):
        if label == first:
            solo |= (t >= segment.start - 0.2) & (t < segment.end + 0.2)
        else:
            others |= (t >= segment.start - 0.1) & (t < segment.end + 0.1)
    frames = rec.samples[: len(t) * 160].reshape(-1, 160)
    one_voice = _recording(frames[solo & ~others].reshape(-1))

    def largest_share(score_space: str) -> float:
        config = DiarizationConfig(embedding=EmbeddingDiarizerConfig(score_space=score_space))
        per_speaker: dict[str, float] = {}
        for turn in EmbeddingDiarizer(config).diarize(one_voice).turns:
            per_speaker[turn.speaker] = per_speaker.get(turn.speaker, 0.0) + turn.end - turn.start
        return max(per_speaker.values()) / sum(per_speaker.values())

    assert largest_share("auto") >= 0.9
    assert largest_share("centred") < 0.8


def test_raw_score_space(sample):
    rec, ref = sample
    config = DiarizationConfig(embedding=EmbeddingDiarizerConfig(score_space="raw"))
    result = EmbeddingDiarizer(config).diarize(rec)
    assert result.speakers == ["SPEAKER_00", "SPEAKER_01"]
    for a, b in zip(result.turns[:-1], result.turns[1:]):
        assert a.start < a.end <= b.start, (a, b)
    # 0.154 measured: the raw space loses one 1 s interjection here (docs/benchmarks.md).
    assert _der(ref, result.turns, rec.duration, collar=0.0, skip_overlap=False) < MAX_STRICT_DER


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="no native bfloat16 on this CPU (no AVX512-BF16 or AMX): the "
                    "speaker encoder runs in float32 here, and oneDNN has no bfloat16 LSTM to compare")
def test_bfloat16_embeddings_are_the_float32_ones_within_rounding(sample, monkeypatch):
    """The speaker encoder runs under bf16 autocast where the CPU has it natively (issue 26): each window's
    vector stays a unit vector pointing where float32's does (measured: cosine >= 0.997, mean 0.99994)."""
    from mifidelity.diarization import speaker_encoder

    rec, _ = sample
    mel = speaker_encoder.mel_frames(rec.samples[: 16000 * 30], gain=4.0)
    starts = np.arange(0, len(mel) - 75, 20)
    vectors = {}
    for native in (False, True):
        monkeypatch.setattr(speaker_encoder, "cpu_has_native_bf16", lambda native=native: native)
        vectors[native] = speaker_encoder.embed_windows(mel, starts, 75)
    assert np.allclose(np.linalg.norm(vectors[True], axis=1), 1.0, atol=1e-5)
    cosines = (vectors[True] * vectors[False]).sum(axis=1)
    assert cosines.min() > 0.99 and cosines.mean() > 0.999
    assert not np.array_equal(vectors[True], vectors[False])  # bf16 really ran
