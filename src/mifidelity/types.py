"""Typed outputs of every pipeline stage.

Each stage takes and returns one of these small objects, so a stage can be
called, tested and cached on its own. Tables that pandas handles well (coded
utterances, session metrics) are converted to DataFrames in one place:
:mod:`mifidelity.outputs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

Role = Literal["coach", "client"]

# The rate every model reads (Whisper, the Silero VAD, the speaker encoder, the diariser's features) and so the
# rate recordings are decoded to: its one home.
SAMPLE_RATE = 16000

ProgressHook = Callable[[str, float], None]
"""``hook(stage, fraction)``: a stage reports 0.0 when it starts, 1.0 when it ends, and progress in between.

The caller owns the display (the CLI's terminal lines, a flow's logs); stages only call it.
"""


@dataclass(frozen=True)
class StageInfo:
    """Which engine and model produced a stage's output (recorded in session.json)."""

    engine: str
    model: str
    version: str


@dataclass
class Recording:
    """A decoded recording.

    Attributes
    ----------
    source:
        Path of the original file (never modified).
    samples:
        Mono float32 waveform at ``sample_rate`` (:data:`SAMPLE_RATE`, 16 kHz), what the models consume.
    channels:
        Float32 array ``(n_channels, n_samples)`` at ``sample_rate``: the original
        channels, kept for the channel diariser. For a mono file this is ``samples[None]``.
    content_sha256:
        Hash of the original file's bytes; keys caches and the inbox ledger.
    """

    source: str
    samples: np.ndarray
    sample_rate: int
    channels: np.ndarray
    content_sha256: str

    @property
    def duration(self) -> float:
        return float(len(self.samples)) / self.sample_rate

    @property
    def n_channels(self) -> int:
        return int(self.channels.shape[0])


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span (seconds) and recogniser probability."""

    start: float
    end: float
    text: str
    probability: float = 1.0

    @property
    def midpoint(self) -> float:
        return 0.5 * (self.start + self.end)


@dataclass
class Transcript:
    """The recogniser's output: words in time order."""

    words: list[Word]
    language: str
    info: StageInfo


@dataclass(frozen=True)
class SpeakerTurn:
    """A span of time (seconds) during which one speaker talks."""

    start: float
    end: float
    speaker: str


@dataclass
class Diarization:
    """Who spoke when: non-overlapping speaker turns in time order.

    ``speaker_channel`` maps a speaker label to the audio channel it came from,
    for engines that know it (the channel diariser), so roles can be overridden
    by channel.
    """

    turns: list[SpeakerTurn]
    info: StageInfo
    speaker_channel: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def speakers(self) -> list[str]:
        return sorted({t.speaker for t in self.turns})


@dataclass
class Utterance:
    """A run of one speaker's words, split at long pauses.

    ``backchannel`` marks a short "mm-hmm", "yeah" or laugh said inside the other
    person's turn (:mod:`mifidelity.alignment`): it is kept as its own utterance,
    does not end the other speaker's volley and is never a question or reflection.
    """

    start: float | None
    end: float | None
    speaker: str
    text: str
    role: Role | None = None
    backchannel: bool = False


@dataclass
class Alignment:
    """Utterances made from words and speaker turns, with what could not be attributed cleanly.

    ``unattributed_seconds`` / ``unattributed_words``: speech whose speaker the turns
    did not settle (both people at once, or outside every turn); those words went to
    the speaker holding the turn (or the nearest one) and the session notes say so.
    """

    utterances: list[Utterance]
    backchannels: int = 0
    unattributed_seconds: float = 0.0
    unattributed_words: int = 0
    unattributed_places: int = 0


@dataclass(frozen=True)
class VoiceMatch:
    """How close each diarised speaker's voice is to a coach's voice profile (cosine similarity)."""

    coach: str
    similarity: dict[str, float]


@dataclass
class RoleAssignment:
    """Which speaker is the coach, and how sure we are (0.5 = a guess, 1.0 = certain).

    ``method`` says what decided (``voice``, ``language cues``, ``voice and language cues``,
    a configured speaker or channel); ``evidence`` holds each source's own verdict
    (``{"voice": {...}, "language": {...}}``) and ``notes`` what the session notes should say
    (a disagreement between voice and language, a voice not recognised).
    """

    coach_speaker: str | None
    roles: dict[str, Role]
    confidence: float
    method: str
    evidence: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
