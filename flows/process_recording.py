"""Prefect flows: a recording (or an existing transcript) in, a coded session out.

Flows are thin: each task wraps one library function from ``mifidelity`` and
can be tested without Prefect. Transcription and diarisation, the expensive
stages, are cached by the recording's content hash and the config of that
stage, so re-running a session does not transcribe again. Cached results live
in an owner-only folder beside the outputs (``OUT/.cache``), never in a
shared location, because they hold transcript text.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_API_URL

from mifidelity.alignment import align, attribution_note
from mifidelity.audio import load_recording
from mifidelity.coach_voices import VoiceProfiles, check_coach_voice, learn_coach_voice
from mifidelity.coding import get_coder
from mifidelity.config import PipelineConfig
from mifidelity.diarization import get_diarizer
from mifidelity.errors import MifidelityError
from mifidelity.files import private_dir
from mifidelity.outputs import write_session
from mifidelity.report.artifacts import publish_session_artifacts
from mifidelity.report.overview import write_overview
from mifidelity.roles import apply_roles, assign_roles, uncertainty_note
from mifidelity.session import build_session
from mifidelity.transcript_input import read_transcript_csv
from mifidelity.types import Diarization, ProgressHook, Recording, Transcript

logger = logging.getLogger(__name__)


def warm_start(config: PipelineConfig, transcript_only: bool = False) -> None:
    """Start Prefect's local server in the background while this process loads the models.

    Prefect's local mode starts a temporary API server at the first flow call
    (several seconds on two cores) and the models take seconds to load; done
    one after the other they cost more than diarising a short session. A model
    that fails to load here is left alone: its stage reports the problem for
    each recording.
    """
    server_start = None
    if not PREFECT_API_URL.value():
        from prefect.server.api.server import SubprocessASGIServer

        server_start = threading.Thread(target=_start_local_server, args=(SubprocessASGIServer(),),
                                        name="prefect-server-start", daemon=True)
        server_start.start()
    try:
        _load_models(config, transcript_only)
    finally:
        if server_start is not None:
            server_start.join()


def _load_models(config: PipelineConfig, transcript_only: bool = False) -> None:
    """Load (once per process) the models of the stages that run first; one that fails is left to its stage.

    For recordings, the recogniser and the diariser: the coder loads when the first session is coded,
    so its 240 MB are not held while transcription and diarisation run (the run's peak memory).
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


def _start_local_server(server) -> None:
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - the first flow call starts it again and reports the error
        logger.debug("warm start: Prefect's local server did not start (%s)", type(exc).__name__)


def _stage_cache_key(stage: str) -> Callable:
    def key(_context, parameters) -> str:
        config: PipelineConfig = parameters["config"]
        section = {"transcribe": ("audio", "asr"), "diarize": ("audio", "diarization")}[stage]
        return f"{stage}-{parameters['recording'].content_sha256}-{config.fingerprint(*section)}"

    return key


@task(name="load-audio", cache_policy=NO_CACHE, persist_result=False)
def load_audio_task(path: str, config: PipelineConfig) -> Recording:
    return load_recording(path, config.audio.sample_rate, config.audio.ffmpeg)


@task(name="transcribe", cache_key_fn=_stage_cache_key("transcribe"), persist_result=True)
def transcribe_task(recording: Recording, config: PipelineConfig, hook: ProgressHook | None = None) -> Transcript:
    from mifidelity.transcription import get_transcriber

    return get_transcriber(config.asr).transcribe(recording, hook)


@task(name="diarize", cache_key_fn=_stage_cache_key("diarize"), persist_result=True)
def diarize_task(recording: Recording, config: PipelineConfig, hook: ProgressHook | None = None) -> Diarization:
    return get_diarizer(config.diarization).diarize(recording, hook)


def private_cache_storage(out_dir: str | Path, config: PipelineConfig):
    """Where the cached stage results (transcripts!) of sessions written to ``out_dir`` live.

    ``cache.directory`` or ``OUT/.cache``, owner-only. The cached tasks are bound
    to it explicitly in each flow run: Prefect's default result storage
    (``~/.prefect/storage``, readable by others) must never receive a transcript,
    whichever way the flow is called (the CLI, the inbox watcher, a worker).
    Prefect wants the storage saved as a block; the block holds the path only.
    """
    import hashlib

    from mifidelity.cache_storage import PrivateLocalFileSystem

    folder = Path(config.cache.directory or Path(out_dir) / ".cache").absolute()
    private_dir(folder)
    storage = PrivateLocalFileSystem(basepath=str(folder))  # results written 0600, folders 0700
    storage.save(f"mifidelity-cache-{hashlib.sha256(str(folder).encode()).hexdigest()[:16]}", overwrite=True)
    return storage


class _Stopwatch:
    """Seconds per stage, for session.json's ``timings``."""

    def __init__(self, hook: ProgressHook | None):
        self.timings: dict[str, float] = {}
        self.hook = hook

    def run(self, stage: str, fn, *args, **kwargs):
        if self.hook:
            self.hook(stage, 0.0)
        began = time.perf_counter()
        result = fn(*args, **kwargs)
        self.timings[stage] = time.perf_counter() - began
        if self.hook:
            self.hook(stage, 1.0)
        return result

    def run_together(self, calls: dict[str, tuple]) -> list:
        """Submit Prefect tasks (``stage: (task, *args)``) to run at the same time; their results in order.

        Each stage's time is from the common start to its own end; ``together`` is the wall time of all.
        """
        began = time.perf_counter()
        futures = []
        for stage, (stage_task, *args) in calls.items():
            if self.hook:
                self.hook(stage, 0.0)
            future = stage_task.submit(*args)
            future.add_done_callback(lambda _future, stage=stage: self._finished(stage, began))
            futures.append(future)
        results = [future.result() for future in futures]
        self.timings[" + ".join(calls)] = time.perf_counter() - began
        return results

    def _finished(self, stage: str, began: float) -> None:
        self.timings[stage] = time.perf_counter() - began
        if self.hook:
            self.hook(stage, 1.0)


def _publish(session, out_dir: str, config: PipelineConfig, clock: _Stopwatch, overview: bool = True) -> str:
    """Write the session's files, show it in the Prefect UI and (unless a batch does it once) refresh the overview."""
    folder = clock.run("write", write_session, session, out_dir, config.outputs.formats)
    publish_session_artifacts(session)
    if overview:
        write_overview(Path(out_dir))
    return str(folder)


@flow(name="process-recording")
def process_recording(
    path: str,
    out_dir: str,
    config: PipelineConfig,
    coach: str | None = None,
    hook: ProgressHook | None = None,
    session_id: str | None = None,
) -> str:
    """Recording in, session folder (session.json, utterances.csv, transcript.txt, report.html, ...) out.

    ``session_id`` names the output folder; default: the recording's file stem.
    """
    if config.cache.enabled:
        storage = private_cache_storage(out_dir, config)
        transcribe = transcribe_task.with_options(result_storage=storage)
        diarize = diarize_task.with_options(result_storage=storage)
    else:
        transcribe = transcribe_task.with_options(persist_result=False, cache_policy=NO_CACHE)
        diarize = diarize_task.with_options(persist_result=False, cache_policy=NO_CACHE)

    clock = _Stopwatch(hook)
    recording = clock.run("audio", load_audio_task, path, config)
    # Diarisation does not need the transcript: the two run at the same time (two threads), each
    # bounded in its own thread count (asr.cpu_threads, diarization.embedding.threads). Their models
    # load first, one after the other: two threads importing the same packages race.
    _load_models(config)
    transcript, diarization = clock.run_together({
        "transcribe": (transcribe, recording, config, hook),
        "diarize": (diarize, recording, config, hook),
    })
    alignment = clock.run("align", align, transcript.words, diarization.turns, config.alignment.max_pause)
    utterances = alignment.utterances
    voices = profiles = None
    if coach and config.roles.voice:
        profiles = VoiceProfiles.for_output(out_dir, config.roles)
        voices = clock.run("voices", check_coach_voice, profiles, coach, recording.samples, recording.sample_rate,
                           diarization.turns)
    roles = clock.run("roles", assign_roles, utterances, config.roles, diarization.speaker_channel,
                      voices.match if voices else None)
    coder = get_coder(config.coding)
    notes = list(diarization.notes) + (voices.notes if voices else []) + roles.notes
    if note := attribution_note(alignment):
        notes.append(note)
    if not transcript.words:
        notes.append("No speech was recognised in this recording.")
    elif note := uncertainty_note(roles):
        notes.append(note)
    session = clock.run(
        "code", build_session,
        session_id=session_id or Path(path).stem,
        source=recording.source,
        utterances=apply_roles(utterances, roles),
        coder=coder,
        duration_seconds=recording.duration,
        models={"transcription": transcript.info, "diarization": diarization.info},
        timings=clock.timings,
        roles=roles,
        notes=notes,
        coach=coach,
        recorded_at=datetime.fromtimestamp(os.path.getmtime(path)).astimezone(),
        speaker_turns=diarization.turns,
    )
    folder = _publish(session, out_dir, config, clock)
    if voices is not None:  # only once the session is written: a failed session teaches nothing
        outcome = learn_coach_voice(profiles, voices, roles, recording.content_sha256)
        logger.info("voice profile of coach %s: %s", coach, outcome)
    return folder


def _code_transcript(path: str, out_dir: str, config: PipelineConfig, coach: str | None,
                     hook: ProgressHook | None, overview: bool = True) -> str:
    clock = _Stopwatch(hook)
    utterances = clock.run("read", read_transcript_csv, path)
    coder = get_coder(config.coding)
    session = clock.run(
        "code", build_session,
        session_id=Path(path).stem,
        source=str(Path(path).resolve()),
        utterances=utterances,
        coder=coder,
        timings=clock.timings,
        coach=coach,
    )
    return _publish(session, out_dir, config, clock, overview)


@flow(name="code-transcript")
def code_transcript(
    path: str,
    out_dir: str,
    config: PipelineConfig,
    coach: str | None = None,
    hook: ProgressHook | None = None,
) -> str:
    """An existing transcript CSV (role, text[, start, end, speaker, backchannel]) in, session folder out."""
    return _code_transcript(path, out_dir, config, coach, hook)


@task(name="code-transcript", cache_policy=NO_CACHE, persist_result=False)
def code_transcript_task(path: str, out_dir: str, config: PipelineConfig, coach: str | None = None,
                         hook: ProgressHook | None = None) -> str:
    return _code_transcript(path, out_dir, config, coach, hook, overview=False)


@flow(name="code-transcripts")
def code_transcripts(
    paths: list[str],
    out_dir: str,
    config: PipelineConfig,
    coach: str | None = None,
    hooks: list[ProgressHook] | None = None,
) -> list[tuple[str, str | None, str | None]]:
    """Many transcripts in one flow run (a task each), the supervisor overview written once at the end.

    One flow run per transcript costs more than coding a short session; a batch pays it once.
    Returns ``(path, session folder, None)`` or ``(path, None, error message)`` per transcript: one
    bad transcript does not stop the others (its task run shows as failed in the Prefect UI).
    """
    outcomes: list[tuple[str, str | None, str | None]] = []
    for index, path in enumerate(paths):
        hook = hooks[index] if hooks else None
        try:
            outcomes.append((path, code_transcript_task(path, out_dir, config, coach, hook), None))
        except MifidelityError as exc:
            outcomes.append((path, None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
            outcomes.append((path, None, f"unexpected error ({type(exc).__name__}: {exc})"))
    if any(folder for _, folder, _ in outcomes):
        write_overview(Path(out_dir))
    return outcomes
