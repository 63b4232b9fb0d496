"""The diarisers' time grid, and turning per-frame labels into speaker turns.

One home for the 10 ms frame (at :data:`mifidelity.types.SAMPLE_RATE`) every
embedding-diariser decision is made on (the speaker encoder's mel hop, the MFCC hop of
resegmentation), and for the run-length helpers both the channel diariser
and the embedding pipeline use: runs of equal labels, speech-mask cleaning,
and labelled frames -> :class:`~mifidelity.types.SpeakerTurn`.

Labels are small integers, one per frame; ``-1`` marks a frame nobody speaks in.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mifidelity.types import SAMPLE_RATE, SpeakerTurn

HOP = 160  # samples per frame (at types.SAMPLE_RATE, what the VAD, the speaker encoder and the features read)
FRAME_SECONDS = HOP / SAMPLE_RATE  # 10 ms
NO_SPEAKER = -1


def label_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start frame, end frame, label)`` of each run of equal labels, in order; ends are exclusive."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    bounds = np.concatenate([[0], change, [len(labels)]])
    return [(int(a), int(b), int(labels[a])) for a, b in zip(bounds[:-1], bounds[1:])]


def clean_speech_mask(mask: np.ndarray, min_speech: int, min_gap: int) -> np.ndarray:
    """Fill gaps shorter than ``min_gap`` frames, then drop islands shorter than ``min_speech``.

    Gaps at either end of the recording are not filled: they are not between two speech runs.
    """
    mask = mask.copy()
    for a, b, v in label_runs(mask.astype(int)):
        if v == 0 and b - a < min_gap and a > 0 and b < len(mask):
            mask[a:b] = True
    for a, b, v in label_runs(mask.astype(int)):
        if v == 1 and b - a < min_speech:
            mask[a:b] = False
    return mask


def nearest_labels(labelled: np.ndarray, labels: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The label of the nearest labelled frame for each target frame (ties go to the earlier one).

    Parameters
    ----------
    labelled:
        Frame indices that carry a label, ascending (non-empty).
    labels:
        One label per entry of ``labelled``.
    targets:
        Frame indices to label.
    """
    labelled = np.asarray(labelled)
    targets = np.asarray(targets)
    after = np.searchsorted(labelled, targets).clip(0, len(labelled) - 1)
    before = (after - 1).clip(0)
    take_before = np.abs(targets - labelled[before]) <= np.abs(labelled[after] - targets)
    return np.asarray(labels)[np.where(take_before, before, after)]


def labels_to_turns(
    labels: np.ndarray,
    frame_seconds: float,
    names: Sequence[str],
    bridge_frames: int,
    min_frames: int,
) -> list[SpeakerTurn]:
    """Speaker turns from one label per frame.

    Parameters
    ----------
    labels:
        Speaker index per frame (an index into ``names``), ``NO_SPEAKER`` where nobody speaks.
    frame_seconds:
        Length of one frame.
    names:
        Speaker label for each index.
    bridge_frames:
        A pause of at most this many frames between two runs of one speaker
        becomes part of their turn (people pause inside a turn).
    min_frames:
        Runs shorter than this are dropped (blips).

    Returns
    -------
    list[SpeakerTurn]
        Non-overlapping turns in time order, times rounded to the millisecond.
    """
    labels = np.array(labels, dtype=int)
    runs = label_runs(labels)
    for i in range(1, len(runs) - 1):
        start, end, label = runs[i]
        if label == NO_SPEAKER and end - start <= bridge_frames and runs[i - 1][2] == runs[i + 1][2]:
            labels[start:end] = runs[i - 1][2]
    return [
        SpeakerTurn(round(a * frame_seconds, 3), round(b * frame_seconds, 3), names[label])
        for a, b, label in label_runs(labels)
        if label != NO_SPEAKER and b - a >= min_frames
    ]
