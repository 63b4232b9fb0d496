"""The channel diariser: stereo recordings with one person per channel.

Phone and video-call recorders often put each party on their own channel, and
each channel also carries some of the other party (cross-talk bleed, echo), at a
gain of its own. Speech is found per channel with the Silero VAD (so hum, hiss
and clicks are not speech); where speech is found, the frame goes to the channel
that is loudest *relative to that channel's own speech level*: bleed is well
below the level of the channel's own speaker whatever the channel's gain, while
raw energies would give a quiet channel's speech to a hot channel's bleed.
Short gaps are bridged and blips dropped.
"""

from __future__ import annotations

import numpy as np

from mifidelity.config import DiarizationConfig
from mifidelity.diarization.frames import NO_SPEAKER, SAMPLE_RATE, labels_to_turns
from mifidelity.diarization.vad import VAD_FRAME_SAMPLES, VAD_FRAME_SECONDS, hysteresis, speech_probabilities
from mifidelity.errors import MifidelityError
from mifidelity.types import Diarization, ProgressHook, Recording, StageInfo

# The split-channel check's own energy frames.
ENERGY_FRAME_SECONDS = 0.02
SPEECH_MARGIN_DB = 15.0
ABSOLUTE_FLOOR_DB = -55.0
# A channel's speech level: this percentile of its frame energies (its speaker's loud frames).
SPEECH_LEVEL_PERCENTILE = 95.0
# Energy is measured in the speech band, so mains hum and rumble do not count.
SPEECH_BAND_HZ = (200.0, 4000.0)
NOISE_FLOOR_PERCENTILE = 10.0
# Energy alone counts as speech only this close (dB) to the channel's speech level.
ENERGY_RANGE_DB = 40.0
# Channel decisions are made on energies averaged over this long (a syllable or two).
SMOOTHING_SECONDS = 0.16
BRIDGE_GAP_SECONDS = 0.3
MIN_TURN_SECONDS = 0.2


def _frame_db(channel: np.ndarray, frame: int) -> np.ndarray:
    n_frames = len(channel) // frame
    frames = channel[: n_frames * frame].reshape(n_frames, frame).astype(np.float64)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def _band_power(channel: np.ndarray, n_frames: int) -> np.ndarray:
    """Speech-band power of each 32 ms VAD frame of ``channel``."""
    padded = np.zeros(n_frames * VAD_FRAME_SAMPLES, dtype=np.float32)
    padded[: min(len(channel), len(padded))] = channel[: len(padded)]
    frames = padded.reshape(n_frames, VAD_FRAME_SAMPLES) * np.hanning(VAD_FRAME_SAMPLES).astype(np.float32)
    freqs = np.fft.rfftfreq(VAD_FRAME_SAMPLES, 1.0 / SAMPLE_RATE)
    band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    return (np.abs(np.fft.rfft(frames, axis=1)[:, band]) ** 2).mean(axis=1)


def _band_db(power: np.ndarray) -> np.ndarray:
    """Band power in dB with the channel's steady noise (hiss, a phone line) taken out, so that
    noise never outweighs the other side's bleed."""
    floor = np.percentile(power, NOISE_FLOOR_PERCENTILE)
    return 10.0 * np.log10(np.maximum(power - floor, 1e-12 + 1e-3 * floor))


def _energy_speech(power: np.ndarray) -> np.ndarray:
    """Frames clearly above the channel's noise floor and within reach of its speech level:
    far or quiet voices that the VAD is unsure of (its noise floor is measured in the band,
    so hum does not raise it)."""
    floor = np.percentile(power, NOISE_FLOOR_PERCENTILE)
    level = np.percentile(power, SPEECH_LEVEL_PERCENTILE)
    return (power > floor * 10 ** (SPEECH_MARGIN_DB / 10)) & (power > level * 10 ** (-ENERGY_RANGE_DB / 10))


def _relative_to_level(energies: np.ndarray, percentile: float = SPEECH_LEVEL_PERCENTILE) -> np.ndarray:
    """Each channel's frame energies minus that channel's speech level (gain-free)."""
    return energies - np.percentile(energies, percentile, axis=1, keepdims=True)


def one_speaker_per_channel(recording: Recording, min_separation_db: float = 12.0) -> bool:
    """Whether a recording looks like one person per channel (a split-channel call recording).

    True when, in the frames where anyone speaks, one channel is typically
    ``min_separation_db`` above the other, each measured in the speech band, without its
    steady noise and against its own speech level (:func:`channel_energies`); a mono
    recording stored as two channels (identical, mixed, or one quieter than the other)
    shows almost no difference.
    """
    if recording.n_channels < 2:
        return False
    frame = int(ENERGY_FRAME_SECONDS * recording.sample_rate)
    raw = np.stack([_frame_db(ch, frame) for ch in recording.channels[:2]])
    floors = np.percentile(raw, 10, axis=1, keepdims=True)
    active = (raw > np.maximum(floors + SPEECH_MARGIN_DB, ABSOLUTE_FLOOR_DB)).any(axis=0)
    if active.sum() < 1.0 / ENERGY_FRAME_SECONDS:  # under a second of speech: nothing to judge
        return False
    relative = channel_energies(recording.channels[:2])
    # the check's 20 ms frames -> the 32 ms frames of channel_energies
    centres = ((np.flatnonzero(active) + 0.5) * ENERGY_FRAME_SECONDS / VAD_FRAME_SECONDS).astype(int)
    centres = centres[centres < relative.shape[1]]
    separation = np.abs(relative[0, centres] - relative[1, centres])
    return bool(np.median(separation) >= min_separation_db)


def channel_energies(channels: np.ndarray, powers: np.ndarray | None = None) -> np.ndarray:
    """Per channel and 32 ms frame: speech-band energy (dB) without the channel's steady noise,
    relative to the channel's own speech level, smoothed over :data:`SMOOTHING_SECONDS`."""
    if powers is None:
        n_frames = -(-channels.shape[1] // VAD_FRAME_SAMPLES)
        powers = np.stack([_band_power(channel, n_frames) for channel in channels])
    energies = np.stack([_band_db(power) for power in powers])
    width = max(1, round(SMOOTHING_SECONDS / VAD_FRAME_SECONDS))
    kernel = np.ones(width) / width
    return np.stack([np.convolve(row, kernel, mode="same") for row in _relative_to_level(energies)])


def channel_labels(recording: Recording, onset: float, offset: float) -> np.ndarray:
    """Channel index per 32 ms frame, ``NO_SPEAKER`` where no channel holds speech."""
    channels = recording.channels
    n_frames = -(-channels.shape[1] // VAD_FRAME_SAMPLES)
    speech = np.zeros((len(channels), n_frames), dtype=bool)
    for c, channel in enumerate(channels):
        # Silero on each channel scaled to its own peak, so a quiet channel is judged like a loud one.
        peak = float(np.max(np.abs(channel))) if channel.size else 0.0
        probs = speech_probabilities(channel / peak if peak > 0 else channel)[:n_frames]
        speech[c, : len(probs)] = hysteresis(probs, onset, offset)
    powers = np.stack([_band_power(channel, n_frames) for channel in channels])
    speech |= np.stack([_energy_speech(power) for power in powers])
    relative = channel_energies(channels, powers)
    loudest = np.argmax(np.where(speech, relative, -np.inf), axis=0)
    return np.where(speech.any(axis=0), loudest, NO_SPEAKER)


class ChannelDiarizer:
    """One speaker per audio channel: per-channel VAD, then the channel loudest against its own level."""

    def __init__(self, config: DiarizationConfig):
        self.config = config
        self.info = StageInfo(engine="channels", model="per-channel Silero VAD + level-relative energy",
                              version="2")

    def load(self) -> "ChannelDiarizer":
        """Nothing to load up front: the VAD model loads on first use."""
        return self

    def diarize(self, recording: Recording, hook: ProgressHook | None = None) -> Diarization:
        if recording.n_channels < 2:
            raise MifidelityError(
                "the channel diariser needs a recording with one person per channel, but this one is mono; "
                "use diarization.engine: embedding"
            )
        if recording.sample_rate != SAMPLE_RATE:
            raise MifidelityError(f"the channel diariser needs {SAMPLE_RATE} Hz audio, got {recording.sample_rate} Hz")
        vad = self.config.embedding
        labels = channel_labels(recording, vad.vad_onset, vad.vad_offset)
        # Bridge short silences inside one person's speech, then drop blips.
        turns = labels_to_turns(
            labels,
            VAD_FRAME_SECONDS,
            names=[f"CHANNEL_{c}" for c in range(recording.n_channels)],
            bridge_frames=round(BRIDGE_GAP_SECONDS / VAD_FRAME_SECONDS),
            min_frames=round(MIN_TURN_SECONDS / VAD_FRAME_SECONDS),
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
