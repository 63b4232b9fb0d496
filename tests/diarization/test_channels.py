import subprocess

import numpy as np
import pytest
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate

from mifidelity.audio import load_recording
from mifidelity.config import DiarizationConfig
from mifidelity.diarization import get_diarizer
from mifidelity.diarization.pyannote_engine import annotation_to_turns
from mifidelity.errors import MifidelityError
from mifidelity.types import Recording

# (channel, start second, text): the coach on the left, the client on the right.
SCRIPT = [(0, 0.5, "What brings you in today?"),
          (1, 3.5, "I want to cut down on my drinking."),
          (0, 7.0, "You are worried about your health."),
          (1, 10.0, "Yes, and about my kids.")]


def render(tmp_path) -> tuple:
    inputs, filters, truth = [], [], Annotation()
    for i, (channel, start, text) in enumerate(SCRIPT):
        clip = tmp_path / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(clip), text], check=True)
        # The truth ends where the voice ends, not where espeak's trailing silence does.
        samples = load_recording(clip).samples
        duration = np.flatnonzero(np.abs(samples) > 0.01)[-1] / 16000
        truth[Segment(start, start + duration)] = f"ch{channel}"
        inputs += ["-i", str(clip)]
        filters.append(f"[{i}:a]aresample=16000,adelay={int(start * 1000)},apad=whole_dur=14[d{i}]")
    left = "".join(f"[d{i}]" for i, (c, _, _) in enumerate(SCRIPT) if c == 0)
    right = "".join(f"[d{i}]" for i, (c, _, _) in enumerate(SCRIPT) if c == 1)
    graph = ";".join(filters) + f";{left}amix=inputs=2:normalize=0[l];{right}amix=inputs=2:normalize=0[r];" \
            "[l][r]join=inputs=2:channel_layout=stereo[out]"
    path = tmp_path / "call.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[out]",
                    "-c:a", "aac", str(path)], check=True)
    return path, truth


def test_channel_diariser_finds_each_channels_speaker(tmp_path):
    path, truth = render(tmp_path)
    diarization = get_diarizer(DiarizationConfig(engine="channels")).diarize(load_recording(path))
    hypothesis = Annotation()
    for turn in diarization.turns:
        hypothesis[Segment(turn.start, turn.end)] = turn.speaker
    assert DiarizationErrorRate(collar=0.25)(truth, hypothesis) < 0.1
    assert diarization.speaker_channel == {"CHANNEL_0": 0, "CHANNEL_1": 1}
    assert all(a.end <= b.start for a, b in zip(diarization.turns, diarization.turns[1:]))


def test_channel_diariser_rejects_mono():
    mono = Recording("x.wav", np.zeros(16000, np.float32), 16000, np.zeros((1, 16000), np.float32), "0")
    with pytest.raises(MifidelityError, match="mono"):
        get_diarizer(DiarizationConfig(engine="channels")).diarize(mono)


def test_channel_diariser_on_silence_notes_no_speech():
    silent = np.zeros((2, 16000 * 3), np.float32)
    result = get_diarizer(DiarizationConfig(engine="channels")).diarize(Recording("s.wav", silent[0], 16000, silent, "0"))
    assert result.turns == [] and result.notes


def test_pyannote_annotation_becomes_exclusive_turns():
    annotation = Annotation()
    annotation[Segment(0, 5)] = "A"
    annotation[Segment(4, 8)] = "B"       # overlaps A: cut to start where A ends
    annotation[Segment(8.5, 9)] = "A"
    annotation[Segment(8.6, 8.9)] = "B"   # inside A: dropped
    turns = annotation_to_turns(annotation)
    assert [(t.start, t.end, t.speaker) for t in turns] == [(0, 5, "A"), (5, 8, "B"), (8.5, 9, "A")]


def test_auto_uses_channels_only_for_split_channel_recordings(tmp_path):
    from mifidelity.diarization.channels import one_speaker_per_channel

    path, _ = render(tmp_path)
    split = load_recording(path)
    assert one_speaker_per_channel(split)
    assert get_diarizer(DiarizationConfig()).diarize(split).info.engine == "channels"
    both = np.stack([split.samples, split.samples])  # the same mix on both channels
    dual_mono = Recording("d.wav", split.samples, 16000, both, "0")
    assert not one_speaker_per_channel(dual_mono)


def _with_bleed_and_gain(recording: Recording, bleed: float, gain_right: float, hiss_db: float | None = None):
    """Each channel also carries the other at ``bleed`` (echo, cross-talk); the right one is ``gain_right`` as loud."""
    left, right = recording.channels.astype(np.float64)
    delay = 40  # 2.5 ms
    channels = np.stack([left + bleed * np.roll(right, delay), (right + bleed * np.roll(left, delay)) * gain_right])
    if hiss_db is not None:
        channels[1] += np.random.default_rng(0).normal(0, 10 ** (hiss_db / 20), channels.shape[1])
    channels = channels.astype(np.float32)
    return Recording(recording.source, channels.mean(axis=0), 16000, channels, "0")


def _strict_der_parts(truth, diarization) -> dict:
    hypothesis = Annotation()
    for turn in diarization.turns:
        hypothesis[Segment(turn.start, turn.end)] = turn.speaker
    parts = DiarizationErrorRate(collar=0.0, skip_overlap=False)(truth, hypothesis, detailed=True)
    return {k: parts[k] / parts["total"] for k in ("confusion", "missed detection", "false alarm")}


@pytest.mark.parametrize("gain_right", [0.1, 10.0])
def test_channel_diariser_is_not_fooled_by_bleed_on_a_louder_channel(tmp_path, gain_right):
    # A call recorder that records one side 20 dB hotter than the other, with the usual echo of
    # each side on the other's channel: the hot channel's bleed is louder than the quiet
    # channel's own speaker. Raw energies gave that speech to the wrong person (about half of
    # the speech confused); levels relative to each channel's own speaker do not.
    path, truth = render(tmp_path)
    call = _with_bleed_and_gain(load_recording(path), bleed=0.15, gain_right=gain_right)
    from mifidelity.diarization.channels import one_speaker_per_channel

    assert one_speaker_per_channel(call)
    parts = _strict_der_parts(truth, get_diarizer(DiarizationConfig(engine="channels")).diarize(call))
    assert parts["confusion"] < 0.02 and parts["missed detection"] < 0.1


def test_channel_diariser_does_not_take_hiss_for_speech(tmp_path):
    # A noisy line on one side: the hiss must neither become that side's speech nor cut the
    # other side's turns into blips.
    path, truth = render(tmp_path)
    call = _with_bleed_and_gain(load_recording(path), bleed=0.15, gain_right=1.0, hiss_db=-45)
    parts = _strict_der_parts(truth, get_diarizer(DiarizationConfig(engine="channels")).diarize(call))
    assert parts["confusion"] < 0.03 and parts["false alarm"] < 0.1 and parts["missed detection"] < 0.1


def test_a_mono_recording_stored_louder_on_one_side_is_not_split_channel(tmp_path):
    from mifidelity.diarization.channels import one_speaker_per_channel

    path, _ = render(tmp_path)
    mix = load_recording(path).samples
    lopsided = np.stack([mix, 0.05 * mix]).astype(np.float32)  # the same mix, 26 dB down on the right
    assert not one_speaker_per_channel(Recording("d.wav", mix, 16000, lopsided, "0"))


def test_one_microphone_on_the_left_input_is_not_split_channel(tmp_path):
    # Both people on the left channel, the right input empty (digital silence or hiss): the
    # channel diariser would make them one speaker, so auto must keep the embedding diariser.
    from mifidelity.diarization.channels import one_speaker_per_channel

    path, _ = render(tmp_path)
    mix = load_recording(path).samples
    for right in (np.zeros_like(mix), np.random.default_rng(0).normal(0, 1e-3, len(mix))):
        left_only = np.round(np.stack([mix, right]) * 32767) / 32767
        assert not one_speaker_per_channel(Recording("l.wav", mix, 16000, left_only.astype(np.float32), "0"))
