"""The stages of a recording and of a transcript, each a plain typed function, and the rules between them.

Each stage function is what a flow wraps as one Prefect task; the rules (which notes a session carries,
when a coach's voice is looked for, the session's date and id, which models it names) are plain functions
too, so a test reaches them without Prefect. The order the stages run in is :mod:`mifidelity.pipeline.runs`.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from mifidelity.alignment import align, attribution_note
from mifidelity.audio import load_recording
from mifidelity.coach_voices import CoachVoiceCheck, VoiceProfiles, check_coach_voice, learn_coach_voice
from mifidelity.coding import get_coder
from mifidelity.config import PipelineConfig
from mifidelity.diarization import get_diarizer
from mifidelity.outputs import write_session
from mifidelity.report.overview import write_overview
from mifidelity.roles import apply_roles, assign_roles, uncertainty_note
from mifidelity.session import CodedSession, build_session
from mifidelity.transcript_input import read_transcript_csv
from mifidelity.types import (Alignment, Diarization, ProgressHook, Recording, RoleAssignment, StageInfo, Transcript,
                              Utterance)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Recordings of a batch may run at the same time (pipeline.lanes); the recogniser serves them from its own
# workers, and every other stage that holds a model or writes a shared file (the diariser, the coder, the
# outputs and overview, the coach voice profiles) takes one recording at a time.
_ONE_RECORDING_AT_A_TIME = threading.RLock()


def one_recording_at_a_time(stage: Callable[..., T]) -> Callable[..., T]:
    """``stage`` made to run for one recording at a time, whichever lane calls it."""

    @wraps(stage)
    def serial(*args, **kwargs) -> T:
        with _ONE_RECORDING_AT_A_TIME:
            return stage(*args, **kwargs)

    return serial

NO_SPEECH_NOTE = "No speech was recognised in this recording."


@dataclass(frozen=True)
class RecordingJob:
    """One recording to process: where it is, where its session goes, with which settings."""

    path: str
    out_dir: str
    config: PipelineConfig
    coach: str | None = None       # the coach's name: the report header, and whose voice to look for
    session_id: str | None = None  # names the output folder; None: the recording's file stem


@dataclass(frozen=True)
class TranscriptJob:
    """One transcript CSV to code (``mifidelity code``)."""

    path: str
    out_dir: str
    config: PipelineConfig
    coach: str | None = None
    overview: bool = True  # refresh the supervisor overview after writing (a batch does it once, at the end)


@dataclass(frozen=True)
class RecordingFacts:
    """What the session keeps of a decoded recording: where it came from, how long it is, its hash; no waveform."""

    source: str
    duration: float
    content_sha256: str

    @classmethod
    def of(cls, recording: Recording) -> "RecordingFacts":
        return cls(recording.source, recording.duration, recording.content_sha256)


@dataclass(frozen=True)
class RecordingParts:
    """Everything a recording's session is made from, once its roles are decided (the input of the code stage).

    The recording comes as :class:`RecordingFacts`: the waveform (230 MB an hour) is not needed past the roles,
    and the code stage, with the coder loaded beside the recogniser and the diariser, is the run's memory peak.
    """

    job: RecordingJob
    recording: RecordingFacts
    transcript: Transcript
    diarization: Diarization
    alignment: Alignment
    roles: RoleAssignment
    voices: CoachVoiceCheck | None = None  # None: no coach voice was looked for


# -- rules -----------------------------------------------------------------------------------------------


def session_id_for(path: str | Path, session_id: str | None = None) -> str:
    """The session's id (its output folder's name): the one given, else the input file's stem."""
    return session_id or Path(path).stem


def recording_date(path: str | Path) -> datetime:
    """When a recorded session took place, as far as the pipeline knows: the file's modification time (local zone)."""
    return datetime.fromtimestamp(os.path.getmtime(path)).astimezone()


def wants_voice_check(coach: str | None, config: PipelineConfig) -> bool:
    """Whether the session's speakers are compared with the coach's voice profile: a coach named and roles.voice on.

    Only a checked session may later teach the profile (:func:`learn_voice`), and only once it is written.
    """
    return bool(coach) and config.roles.voice


def stage_models(transcript: Transcript, diarization: Diarization) -> dict[str, StageInfo]:
    """The engines and models of the stages before coding, for session.json's ``models``."""
    return {"transcription": transcript.info, "diarization": diarization.info}


def session_notes(*, transcript: Transcript, diarization: Diarization, alignment: Alignment,
                  roles: RoleAssignment, voices: CoachVoiceCheck | None = None) -> list[str]:
    """The caveats a recording's report shows, in this order: the diariser's, the voice check's, the roles',
    speech the turns could not attribute, then either no speech at all or roles that are only a guess."""
    notes = list(diarization.notes) + (list(voices.notes) if voices is not None else []) + list(roles.notes)
    if note := attribution_note(alignment):
        notes.append(note)
    if not transcript.words:
        notes.append(NO_SPEECH_NOTE)
    elif note := uncertainty_note(roles):
        notes.append(note)
    return notes


# -- stages ----------------------------------------------------------------------------------------------


def load_models(config: PipelineConfig, transcript_only: bool = False) -> None:
    """Load (once per process) the models of the stages that run first; one that fails is left to its stage.

    For recordings, the recogniser and the diariser, one after the other: they then run at the same time,
    and two threads importing the same packages race. The coder loads when the first session is coded,
    so its 240 MB are not held while transcription and diarisation run.
    """
    if transcript_only:
        loaders = [lambda: get_coder(config.coding).load()]
    else:
        from mifidelity.transcription import get_transcriber

        loaders = [lambda: get_transcriber(config.asr).load(), lambda: get_diarizer(config.diarization).load()]
    for load in loaders:
        try:
            load()
        except Exception as exc:  # noqa: BLE001 - reported by the stage itself
            logger.debug("a model did not load (%s)", type(exc).__name__)



def load_audio(path: str, config: PipelineConfig) -> Recording:
    """Stage 1: decode the file (ffmpeg) to 16 kHz mono plus its channels."""
    return load_recording(path, config.audio.sample_rate, config.audio.ffmpeg)


def transcribe(recording: Recording, config: PipelineConfig, hook: ProgressHook | None = None) -> Transcript:
    """Stage 2: words with their times (the recogniser of ``config.asr``)."""
    from mifidelity.transcription import get_transcriber

    return get_transcriber(config.asr).transcribe(recording, hook)


@one_recording_at_a_time
def diarize(recording: Recording, config: PipelineConfig, hook: ProgressHook | None = None) -> Diarization:
    """Stage 3: who spoke when (the diariser of ``config.diarization``); needs no transcript.

    It runs beside transcription, at the same CPU priority: the recogniser's one-thread workers do not wait
    for each other, so it no longer stalls them; at nice 19 it waited for a free core (a batch of 15 took
    119-139 s, mean 127, against 114-135 s, mean 125, at normal priority; docs/benchmarks.md).
    """
    return get_diarizer(config.diarization).diarize(recording, hook)


def align_speech(transcript: Transcript, diarization: Diarization, config: PipelineConfig) -> Alignment:
    """Stage 4: the recognised words and the speaker turns made into utterances."""
    return align(transcript.words, diarization.turns, config.alignment.max_pause)


@one_recording_at_a_time
def check_voice(job: RecordingJob, recording: Recording, diarization: Diarization) -> CoachVoiceCheck:
    """Stage 5 (with a coach, see :func:`wants_voice_check`): each speaker's voice against the coach's profile."""
    profiles = VoiceProfiles.for_output(job.out_dir, job.config.roles)
    return check_coach_voice(profiles, job.coach, recording.samples, recording.sample_rate, diarization.turns)


def decide_roles(alignment: Alignment, diarization: Diarization, voices: CoachVoiceCheck | None,
                 config: PipelineConfig) -> RoleAssignment:
    """Stage 6: which speaker is the coach (a configured speaker or channel, the voice, what was said)."""
    return assign_roles(alignment.utterances, config.roles, diarization.speaker_channel,
                        voices.match if voices is not None else None)


@one_recording_at_a_time
def build_recording_session(parts: RecordingParts) -> CodedSession:
    """Stage 7: code the utterances, compute the metrics and the session estimates.

    The session carries no timings yet: the runner adds them once this stage's own time is known.
    """
    job = parts.job
    return build_session(
        session_id=session_id_for(job.path, job.session_id),
        source=parts.recording.source,
        utterances=apply_roles(parts.alignment.utterances, parts.roles),
        coder=get_coder(job.config.coding),
        duration_seconds=parts.recording.duration,
        models=stage_models(parts.transcript, parts.diarization),
        roles=parts.roles,
        notes=session_notes(transcript=parts.transcript, diarization=parts.diarization, alignment=parts.alignment,
                            roles=parts.roles, voices=parts.voices),
        coach=job.coach,
        recorded_at=recording_date(job.path),
        speaker_turns=parts.diarization.turns,
    )


def read_transcript(path: str) -> list[Utterance]:
    """A transcript's first stage: its CSV (role, text[, start, end, speaker, backchannel]) as utterances."""
    return read_transcript_csv(path)


def build_transcript_session(job: TranscriptJob, utterances: Sequence[Utterance]) -> CodedSession:
    """A transcript's code stage; its date is left to the report (a CSV's mtime says nothing about the session)."""
    return build_session(
        session_id=session_id_for(job.path),
        source=str(Path(job.path).resolve()),
        utterances=utterances,
        coder=get_coder(job.config.coding),
        coach=job.coach,
    )


@one_recording_at_a_time
def write(session: CodedSession, out_dir: str, config: PipelineConfig) -> Path:
    """Write the session's folder (the formats of ``outputs.formats``); returns it."""
    return write_session(session, out_dir, config.outputs.formats)


@one_recording_at_a_time
def overview(out_dir: str) -> Path:
    """Rebuild the supervisor overview of every session in ``out_dir``; returns its index.html."""
    return write_overview(Path(out_dir))


@one_recording_at_a_time
def learn_voice(job: RecordingJob, voices: CoachVoiceCheck, roles: RoleAssignment, content_sha256: str) -> str:
    """The last stage of a checked session, once it is written (a failed session teaches nothing): update the
    coach's profile if the session's roles are confident and consistent; what happened, in words."""
    profiles = VoiceProfiles.for_output(job.out_dir, job.config.roles)
    outcome = learn_coach_voice(profiles, voices, roles, content_sha256)
    logger.info("voice profile of coach %s: %s", job.coach, outcome)
    return outcome
