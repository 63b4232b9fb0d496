"""The channel diariser: stereo recordings with one person per channel.

Phone and video-call recorders often put each party on their own channel, and
each channel also carries some of the other party (cross-talk bleed, echo), at a
gain of its own. Speech is what the Silero VAD finds on a channel, or what stands
clearly above that channel's noise floor in the speech band (so hum and hiss are
not speech). Who speaks: the left-minus-right level difference takes one value
while each person talks (the one speaking is louder on their own channel than
their bleed is on the other, whatever the gains and however loud each person is),
and a frame goes to the side whose value it is nearer. Short gaps are bridged and
blips dropped.
"""

from __future__ import annotations

import numpy as np

from mifidelity.config import DiarizationConfig
from mifidelity.diarization.frames import NO_SPEAKER, labels_to_turns
from mifidelity.diarization.vad import VAD_FRAME_SAMPLES, VAD_FRAME_SECONDS, hysteresis, speech_probabilities
from mifidelity.errors import MifidelityError
from mifidelity.types import SAMPLE_RATE, Diarization, ProgressHook, Recording, StageInfo

# Energy alone is speech this far (dB) above the channel's noise floor.
SPEECH_MARGIN_DB = 15.0
# A channel's speech level: this percentile of its frame energies (its speaker's loud frames).
SPEECH_LEVEL_PERCENTILE = 95.0
# Energy is measured in the speech band, so mains hum and rumble do not count.
SPEECH_BAND_HZ = (200.0, 4000.0)
NOISE_FLOOR_PERCENTILE = 10.0
# Energy alone counts as speech only this close (dB) to the channel's speech level.
ENERGY_RANGE_DB = 40.0
# Channel decisions are made on energies averaged over this long (a syllable or two).
SMOOTHING_SECONDS = 0.16
# The split-channel check wants at least this much speech of each side's own.
MIN_OWN_SPEECH_SECONDS = 1.0
BRIDGE_GAP_SECONDS = 0.3
MIN_TURN_SECONDS = 0.2


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


def channel_powers(channels: np.ndarray) -> np.ndarray:
    """Speech-band power per channel and 32 ms VAD frame."""
    n_frames = -(-channels.shape[1] // VAD_FRAME_SAMPLES)
    return np.stack([_band_power(channel, n_frames) for channel in channels])


def channel_energies(powers: np.ndarray) -> np.ndarray:
    """Per channel and frame: speech-band energy (dB) without the channel's steady noise,
    smoothed over :data:`SMOOTHING_SECONDS`."""
    width = max(1, round(SMOOTHING_SECONDS / VAD_FRAME_SECONDS))
    kernel = np.ones(width) / width
    return np.stack([np.convolve(_band_db(power), kernel, mode="same") for power in powers])


def two_modes(values: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """The two centres of a one-dimensional 2-means split of ``values`` (low, high)."""
    low, high = np.percentile(values, [10, 90])
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        below, above = values[values <= middle], values[values > middle]
        if not len(below) or not len(above):
            break
        new_low, new_high = float(below.mean()), float(above.mean())
        if abs(new_low - low) < 1e-6 and abs(new_high - high) < 1e-6:
            break
        low, high = new_low, new_high
    return float(low), float(high)


def one_speaker_per_channel(recording: Recording, min_separation_db: float = 12.0) -> bool:
    """Whether a recording looks like one person per channel (a split-channel call recording).

    Where anyone speaks, the level difference between the two channels (speech band,
    steady noise out) takes two values, one while each person talks: the one speaking is
    much louder on their own channel than their bleed on the other, whatever the channels'
    gains and however loud each person is. True when those two values lie
    ``min_separation_db`` or more apart. A mono recording stored as two channels (identical,
    mixed, or one side quieter) has one value; a stereo microphone in a room a few dB; and a
    recording with speech on one channel only is not split either.
    """
    if recording.n_channels < 2:
        return False
    powers = channel_powers(recording.channels[:2])
    frames = np.flatnonzero(_energy_speech(powers[0]) | _energy_speech(powers[1]))
    if len(frames) * VAD_FRAME_SECONDS < 1.0:  # under a second of speech: nothing to judge
        return False
    energies = channel_energies(powers)
    difference = energies[0, frames] - energies[1, frames]
    low, high = two_modes(difference)
    if high - low < min_separation_db:
        return False
    # Each side must hold a voice of its own where it is the louder one: a microphone on the
    # left input with nothing (or only hiss) on the right is one channel, not one person per channel.
    left_louder = difference > 0.5 * (low + high)
    for channel, frames_of_channel in ((0, frames[left_louder]), (1, frames[~left_louder])):
        own_speech = _energy_speech(powers[channel])[frames_of_channel]
        if own_speech.sum() * VAD_FRAME_SECONDS < MIN_OWN_SPEECH_SECONDS or own_speech.mean() < 0.5:
            return False
    return True


def channel_labels(recording: Recording, onset: float, offset: float) -> np.ndarray:
    """Channel index per 32 ms frame, ``NO_SPEAKER`` where no channel holds speech.

    Two channels: a frame goes to the left one where the left-minus-right level difference
    is nearer its "left speaks" value than its "right speaks" value (:func:`two_modes` over
    the speech frames), so neither the channels' gains nor the bleed between them, nor one
    person being quieter, moves the decision. More channels: the channel loudest relative to
    its own speech level.
    """
    channels = recording.channels
    n_frames = -(-channels.shape[1] // VAD_FRAME_SAMPLES)
    speech = np.zeros((len(channels), n_frames), dtype=bool)
    for c, channel in enumerate(channels):
        # Silero on each channel scaled to its own peak, so a quiet channel is judged like a loud one.
        peak = float(np.max(np.abs(channel))) if channel.size else 0.0
        probs = speech_probabilities(channel / peak if peak > 0 else channel)[:n_frames]
        speech[c, : len(probs)] = hysteresis(probs, onset, offset)
    powers = channel_powers(channels)
    speech |= np.stack([_energy_speech(power) for power in powers])
    anyone = speech.any(axis=0)
    energies = channel_energies(powers)
    if len(channels) == 2 and anyone.sum() >= 2:
        difference = energies[0] - energies[1]
        low, high = two_modes(difference[anyone])
        loudest = np.where(difference > 0.5 * (low + high), 0, 1)
    else:
        loudest = np.argmax(np.where(speech, _relative_to_level(energies), -np.inf), axis=0)
    return np.where(anyone, loudest, NO_SPEAKER)


class ChannelDiarizer:
    """One speaker per audio channel: per-channel speech, then which side the level difference points to."""

    def __init__(self, config: DiarizationConfig):
        self.config = config
        self.info = StageInfo(engine="channels", model="per-channel Silero VAD + channel level difference",
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
