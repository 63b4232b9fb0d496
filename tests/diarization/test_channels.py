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
