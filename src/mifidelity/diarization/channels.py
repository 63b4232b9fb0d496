"""The channel diariser: stereo recordings with one person per channel.

Phone and video-call recorders often put each party on their own channel.
Speech is found per channel by frame energy against that channel's noise
floor; where both channels are active the louder one wins (the other is
usually cross-talk bleed). Short gaps are bridged and blips dropped.
"""

from __future__ import annotations


import numpy as np

from mifidelity.config import DiarizationConfig
from mifidelity.diarization.frames import NO_SPEAKER, labels_to_turns
from mifidelity.errors import MifidelityError
from mifidelity.types import Diarization, ProgressHook, Recording, StageInfo

# This diariser's own energy frames (the embedding diariser's 10 ms grid is in frames.py).
ENERGY_FRAME_SECONDS = 0.02
SPEECH_MARGIN_DB = 15.0
ABSOLUTE_FLOOR_DB = -55.0
BRIDGE_GAP_SECONDS = 0.3
MIN_TURN_SECONDS = 0.2


def _frame_db(channel: np.ndarray, frame: int) -> np.ndarray:
    n_frames = len(channel) // frame
    frames = channel[: n_frames * frame].reshape(n_frames, frame).astype(np.float64)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def one_speaker_per_channel(recording: Recording, min_separation_db: float = 12.0) -> bool:
    """Whether a recording looks like one person per channel (a split-channel call recording).

    True when, in the frames where anyone speaks, the louder channel is
    typically ``min_separation_db`` above the other; a mono recording stored as
    two identical or mixed channels shows almost no difference.
    """
    if recording.n_channels < 2:
        return False
    frame = int(ENERGY_FRAME_SECONDS * recording.sample_rate)
    energies = np.stack([_frame_db(ch, frame) for ch in recording.channels[:2]])
    floors = np.percentile(energies, 10, axis=1, keepdims=True)
    active = (energies > np.maximum(floors + SPEECH_MARGIN_DB, ABSOLUTE_FLOOR_DB)).any(axis=0)
    if active.sum() < 1.0 / ENERGY_FRAME_SECONDS:  # under a second of speech: nothing to judge
        return False
    separation = np.abs(energies[0, active] - energies[1, active])
    return bool(np.median(separation) >= min_separation_db)


class ChannelDiarizer:
    """One speaker per audio channel, by per-channel energy."""

    def __init__(self, config: DiarizationConfig):
        self.config = config
        self.info = StageInfo(engine="channels", model="per-channel energy", version="1")

    def load(self) -> "ChannelDiarizer":
        """Nothing to load: the channel diariser uses no model."""
        return self

    def diarize(self, recording: Recording, hook: ProgressHook | None = None) -> Diarization:
        if recording.n_channels < 2:
            raise MifidelityError(
                "the channel diariser needs a recording with one person per channel, but this one is mono; "
                "use diarization.engine: embedding"
            )
        frame = int(ENERGY_FRAME_SECONDS * recording.sample_rate)
        energies = np.stack([_frame_db(ch, frame) for ch in recording.channels])
        floors = np.percentile(energies, 10, axis=1, keepdims=True)
        active = energies > np.maximum(floors + SPEECH_MARGIN_DB, ABSOLUTE_FLOOR_DB)
        loudest = np.argmax(np.where(active, energies, -np.inf), axis=0)
        labels = np.where(active.any(axis=0), loudest, NO_SPEAKER)
        # Bridge short silences inside one person's speech, then drop blips.
        turns = labels_to_turns(
            labels,
            ENERGY_FRAME_SECONDS,
            names=[f"CHANNEL_{c}" for c in range(len(energies))],
            bridge_frames=round(BRIDGE_GAP_SECONDS / ENERGY_FRAME_SECONDS),
            min_frames=round(MIN_TURN_SECONDS / ENERGY_FRAME_SECONDS),
        )
        if hook:
            hook("diarize", 1.0)
        speakers = sorted({t.speaker for t in turns})
        notes = []
        if not turns:
            notes.append("No speech was found on any channel.")
        elif len(speakers) == 1:
            notes.append("Speech was found on one channel only: this looks like a one-speaker recording.")
        return Diarization(
            turns=turns,
            info=self.info,
            speaker_channel={s: int(s.split("_")[1]) for s in speakers},
            notes=notes,
        )
