"""Runs of labels, speech-mask cleaning and labelled frames -> turns (shared by the channel and embedding diarisers)."""

import numpy as np

from mifidelity.diarization.frames import (
    FRAME_SECONDS,
    HOP,
    SAMPLE_RATE,
    clean_speech_mask,
    label_runs,
    labels_to_turns,
    nearest_labels,
)
from mifidelity.types import SpeakerTurn


def test_the_grid_is_10_ms_at_16_khz():
    assert (SAMPLE_RATE, HOP, FRAME_SECONDS) == (16000, 160, 0.01)


def test_label_runs():
    assert label_runs(np.array([], dtype=int)) == []
    assert label_runs(np.array([-1, -1, 0, 0, 1])) == [(0, 2, -1), (2, 4, 0), (4, 5, 1)]


def test_clean_speech_mask_fills_short_gaps_then_drops_short_islands():
    mask = np.array([1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0], dtype=bool)
    cleaned = clean_speech_mask(mask, min_speech=2, min_gap=2)
    assert cleaned.astype(int).tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert mask[3] == 0  # the input is left alone


def test_clean_speech_mask_leaves_leading_and_trailing_silence():
    mask = np.array([0, 1, 1, 1, 0], dtype=bool)
    assert clean_speech_mask(mask, min_speech=1, min_gap=5).tolist() == mask.tolist()


def test_labels_to_turns_bridges_one_speakers_pauses_and_drops_blips():
    labels = np.array([0] * 5 + [-1] * 2 + [0] * 5 + [-1] * 4 + [1] * 3 + [-1] + [1] + [-1] * 3 + [0] * 2)
    turns = labels_to_turns(labels, 0.1, ["A", "B"], bridge_frames=2, min_frames=3)
    # A's 2-frame pause is bridged, the 4-frame one between A and B is not; A's final 2 frames are a blip.
    assert turns == [SpeakerTurn(0.0, 1.2, "A"), SpeakerTurn(1.6, 2.1, "B")]
    assert labels[5] == -1  # the input is left alone


def test_labels_to_turns_of_silence_is_empty():
    assert labels_to_turns(np.full(10, -1), 0.01, ["A"], 5, 1) == []


def test_nearest_labels_takes_the_closest_labelled_frame():
    labelled = np.array([10, 11, 20, 21])
    labels = np.array([0, 0, 1, 1])
    targets = np.array([0, 10, 12, 15, 16, 19, 30])
    # 15 is 4 frames from 11 and 5 from 20; 16 is 5 and 4.
    assert nearest_labels(labelled, labels, targets).tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert nearest_labels(labelled, labels, np.array([], dtype=int)).tolist() == []


def test_nearest_labels_tie_goes_to_the_earlier_frame():
    assert nearest_labels(np.array([0, 4]), np.array([7, 9]), np.array([2])).tolist() == [7]
