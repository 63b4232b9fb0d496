"""The order of the stages: a recording's, a transcript's and a batch of transcripts'.

:func:`run_recording` and :func:`run_transcript` call each stage through a steps object
(:class:`RecordingSteps`, :class:`TranscriptSteps`). By default the steps are the library functions of
:mod:`mifidelity.pipeline.stages` themselves; a Prefect flow passes the same functions wrapped as named
tasks, so the order, the rules and the timings stay here whichever runs them. Each timed stage reports its
start and end to the progress hook and its seconds to the session's ``timings``, handed to the session as a
value once the code stage has ended (``write`` ends after session.json is written, so it is in the outcome
but not in the file).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence, TypeVar

from mifidelity import return_freed_memory
from mifidelity.coach_voices import CoachVoiceCheck
from mifidelity.config import PipelineConfig
from mifidelity.errors import MifidelityError
from mifidelity.pipeline import stages
from mifidelity.pipeline.stages import (RecordingFacts, RecordingJob, RecordingParts, TranscriptJob,
                                       wants_voice_check)
from mifidelity.session import CodedSession
from mifidelity.types import (Alignment, Diarization, ProgressHook, Recording, RoleAssignment, Transcript,
                              Utterance)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Stage:
    """One stage: ``task`` names its Prefect task; ``timing`` its progress line and session.json key (None: untimed)."""

    task: str
    timing: str | None


RECORDING_STAGES: tuple[Stage, ...] = (
    Stage("load-audio", "audio"),
    Stage("transcribe", "transcribe"),   # transcribe and diarize run at the same time
    Stage("diarize", "diarize"),
    Stage("align", "align"),
    Stage("voices", "voices"),           # only with a coach (stages.wants_voice_check)
    Stage("roles", "roles"),
    Stage("code", "code"),
    Stage("write", "write"),
    Stage("overview", None),
    Stage("learn-voice", None),          # only after voices, once the session is written
)
TRANSCRIPT_STAGES: tuple[Stage, ...] = (
    Stage("read", "read"),
    Stage("code", "code"),
    Stage("write", "write"),
    Stage("overview", None),             # a batch: once, after the last transcript
)

class Pending(Protocol[T_co]):
    """A stage started in the background: a ``concurrent.futures.Future`` or a Prefect task's future."""

    def result(self) -> T_co: ...

    def add_done_callback(self, fn: Callable[[Any], None]) -> None: ...


def ran_now(stage: Callable[..., T], *args: Any) -> Future:
    """``stage(*args)`` run in this thread, as a finished future: the plain stand-in for a task's ``.submit``."""
    future: Future = Future()
    try:
        future.set_result(stage(*args))
    except Exception as exc:  # noqa: BLE001 - handed to whoever asks for the result, as a real future would
        future.set_exception(exc)
    return future


@dataclass(frozen=True)
class RecordingSteps:
    """How each stage of a recording is called; the library's functions unless a flow gives its tasks."""

    load_audio: Callable[[str, PipelineConfig], Recording] = stages.load_audio
    transcribe: Callable[[Recording, PipelineConfig, ProgressHook | None], Pending[Transcript]] = partial(
        ran_now, stages.transcribe)
    diarize: Callable[[Recording, PipelineConfig, ProgressHook | None], Pending[Diarization]] = partial(
        ran_now, stages.diarize)
    align: Callable[[Transcript, Diarization, PipelineConfig], Alignment] = stages.align_speech
    voices: Callable[[RecordingJob, Recording, Diarization], CoachVoiceCheck] = stages.check_voice
    roles: Callable[[Alignment, Diarization, CoachVoiceCheck | None, PipelineConfig], RoleAssignment] = (
        stages.decide_roles)
    code: Callable[[RecordingParts], CodedSession] = stages.build_recording_session
    write: Callable[[CodedSession, str, PipelineConfig], Path] = stages.write
    overview: Callable[[str], Path] = stages.overview
    learn_voice: Callable[[RecordingJob, CoachVoiceCheck, RoleAssignment, str], str] = stages.learn_voice


@dataclass(frozen=True)
class TranscriptSteps:
    """How each stage of a transcript is called."""

    read: Callable[[str], list[Utterance]] = stages.read_transcript
    code: Callable[[TranscriptJob, Sequence[Utterance]], CodedSession] = stages.build_transcript_session
    write: Callable[[CodedSession, str, PipelineConfig], Path] = stages.write
    overview: Callable[[str], Path] = stages.overview


@dataclass(frozen=True)
class Outcome:
    """A written session: its folder, the session as written, and every timed stage's seconds."""

    folder: Path
    session: CodedSession
    timings: dict[str, float]  # session.timings plus the stages that ended after session.json was written
    voice: str | None = None   # what learning the coach's voice did, when it was looked for


class StageClock:
    """Seconds per stage, and each stage's start and end reported to the progress hook."""

    def __init__(self, hook: ProgressHook | None = None):
        self.hook = hook
        self._timings: dict[str, float] = {}

    def timings(self) -> dict[str, float]:
        """The stages timed so far, in the order they ended (a copy)."""
        return dict(self._timings)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (a stage that raises is neither timed nor reported as ended)."""
        self._report(name, 0.0)
        began = time.perf_counter()
        yield
        self._timings[name] = time.perf_counter() - began
        self._report(name, 1.0)

    def together(self, starts: dict[str, Callable[[], Pending]]) -> list:
        """Start stages that run at the same time (``stage: start``); their results, in order.

        Each stage's time runs from the common start to its own end; ``"a + b"`` is the wall time of all.
        """
        began = time.perf_counter()
        futures, ended = [], []
        for name, start in starts.items():
            self._report(name, 0.0)
            future = start()
            done = threading.Event()
            future.add_done_callback(lambda _future, name=name, done=done: self._ended(name, began, done))
            futures.append(future)
            ended.append(done)
        results = [future.result() for future in futures]
        for done in ended:  # a future's callbacks may still be running when its result() returns
            done.wait()
        self._timings[" + ".join(starts)] = time.perf_counter() - began
        return results

    def _ended(self, name: str, began: float, done: threading.Event) -> None:
        try:
            self._timings[name] = time.perf_counter() - began
            self._report(name, 1.0)
        finally:
            done.set()

    def _report(self, name: str, fraction: float) -> None:
        if self.hook:
            self.hook(name, fraction)


def run_recording(job: RecordingJob, steps: RecordingSteps = RecordingSteps(),
                  hook: ProgressHook | None = None) -> Outcome:
    """A recording's stages in order (:data:`RECORDING_STAGES`): recording in, written session out."""
    config, clock = job.config, StageClock(hook)
    with clock.stage("audio"):
        recording = steps.load_audio(job.path, config)
    # Diarisation does not need the transcript: the two run at the same time, each bounded in its own
    # thread count (asr.cpu_threads, diarization.embedding.threads). Their models load first.
    stages.load_models(config)
    transcript, diarization = clock.together({
        "transcribe": lambda: steps.transcribe(recording, config, hook),
        "diarize": lambda: steps.diarize(recording, config, hook),
    })
    with clock.stage("align"):
        alignment = steps.align(transcript, diarization, config)
    voices = None
    if wants_voice_check(job.coach, config):
        with clock.stage("voices"):
            voices = steps.voices(job, recording, diarization)
    with clock.stage("roles"):
        roles = steps.roles(alignment, diarization, voices, config)
    # The waveform is not needed from here on; dropped, with the heap the two stages freed given back, before
    # the coder loads: on a 66-minute recording the run's peak (the code stage) fell by about 0.2 GB.
    facts = RecordingFacts.of(recording)
    del recording
    return_freed_memory()
    with clock.stage("code"):
        session = steps.code(RecordingParts(job, facts, transcript, diarization, alignment, roles, voices))
    session = replace(session, timings=clock.timings())
    with clock.stage("write"):
        folder = steps.write(session, job.out_dir, config)
    steps.overview(job.out_dir)
    learnt = None
    if voices is not None:  # only once the session is written: a failed session teaches nothing
        learnt = steps.learn_voice(job, voices, roles, facts.content_sha256)
    return Outcome(folder, session, clock.timings(), learnt)


def run_transcript(job: TranscriptJob, steps: TranscriptSteps = TranscriptSteps(),
                   hook: ProgressHook | None = None) -> Outcome:
    """A transcript's stages in order (:data:`TRANSCRIPT_STAGES`): transcript CSV in, written session out."""
    clock = StageClock(hook)
    with clock.stage("read"):
        utterances = steps.read(job.path)
    with clock.stage("code"):
        session = steps.code(job, utterances)
    session = replace(session, timings=clock.timings())
    with clock.stage("write"):
        folder = steps.write(session, job.out_dir, job.config)
    if job.overview:
        steps.overview(job.out_dir)
    return Outcome(folder, session, clock.timings())


BatchOutcome = tuple[str, str | None, str | None]
"""``(path, session folder, None)`` or ``(path, None, error message)``."""


@dataclass(frozen=True)
class TranscriptBatch:
    """Transcripts coded in one go; the supervisor overview is refreshed once, at the end."""

    paths: Sequence[str]
    out_dir: str
    config: PipelineConfig
    coach: str | None = None
    hooks: Sequence[ProgressHook | None] = field(default_factory=tuple)  # one per path, or none at all

    def jobs(self) -> list[tuple[TranscriptJob, ProgressHook | None]]:
        hooks = list(self.hooks) or [None] * len(self.paths)
        return [(TranscriptJob(path, self.out_dir, self.config, self.coach, overview=False), hook)
                for path, hook in zip(self.paths, hooks, strict=True)]


def run_transcript_batch(batch: TranscriptBatch, code_one: Callable[[TranscriptJob, ProgressHook | None], Any],
                         overview: Callable[[str], Any] = stages.overview) -> list[BatchOutcome]:
    """``code_one(job, hook)`` (its session folder) for each transcript, then the overview if any was written.

    One bad transcript does not stop the others: its outcome carries the error message instead.
    """
    outcomes: list[BatchOutcome] = []
    for job, hook in batch.jobs():
        try:
            outcomes.append((job.path, str(code_one(job, hook)), None))
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
            outcomes.append((job.path, None, failure_reason(exc)))
    if any(folder for _, folder, _ in outcomes):
        overview(batch.out_dir)
    return outcomes


def failure_reason(error: BaseException | None) -> str | None:
    """What an input's outcome says about ``error``: a user's problem in its own words, anything else named."""
    if error is None:
        return None
    if isinstance(error, MifidelityError):
        return str(error)
    return f"unexpected error ({type(error).__name__}: {error})"
