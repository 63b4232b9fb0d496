"""Prefect flows: a recording (or an existing transcript) in, a coded session out.

Flows are thin: each stage of :mod:`mifidelity.pipeline` is a named Prefect task here (its own run and
time in the Prefect UI), and the flow hands those tasks to the pipeline's runner, which holds the order,
the rules and the timings. Transcription and diarisation, the expensive stages, are cached by the
recording's content hash and the config of that stage, so re-running a session does not transcribe
again. Cached results live in an owner-only folder beside the outputs (``OUT/.cache``), never in a
shared location, because they hold transcript text.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from prefect import Task, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_API_URL
from prefect.utilities.annotations import opaque

from mifidelity.config import PipelineConfig
from mifidelity.files import private_dir
from mifidelity.pipeline import (BatchOutcome, RecordingJob, RecordingSteps, TranscriptBatch, TranscriptJob,
                                 TranscriptSteps, load_models, run_recording, run_transcript, run_transcript_batch,
                                 stages)
from mifidelity.session import CodedSession
from mifidelity.types import ProgressHook
from mifidelity_flows.artifacts import publish_session_artifacts

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
        load_models(config, transcript_only)
    finally:
        if server_start is not None:
            server_start.join()


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


_UNCACHED = {"cache_policy": NO_CACHE, "persist_result": False}  # inputs a cache could not hash (arrays, hooks)

transcribe_task = task(stages.transcribe, name="transcribe", cache_key_fn=_stage_cache_key("transcribe"),
                       persist_result=True)
diarize_task = task(stages.diarize, name="diarize", cache_key_fn=_stage_cache_key("diarize"), persist_result=True)
load_audio_task = task(stages.load_audio, name="load-audio", **_UNCACHED)
align_task = task(stages.align_speech, name="align", **_UNCACHED)
voices_task = task(stages.check_voice, name="voices", **_UNCACHED)
roles_task = task(stages.decide_roles, name="roles", **_UNCACHED)
code_recording_task = task(stages.build_recording_session, name="code", **_UNCACHED)
code_session_task = task(stages.build_transcript_session, name="code", **_UNCACHED)
read_task = task(stages.read_transcript, name="read", **_UNCACHED)
overview_task = task(stages.overview, name="overview", **_UNCACHED)
learn_voice_task = task(stages.learn_voice, name="learn-voice", **_UNCACHED)


@task(name="write", **_UNCACHED)
def write_task(session: CodedSession, out_dir: str, config: PipelineConfig) -> Path:
    """Write the session's files, then show it in the Prefect UI (its artifacts)."""
    folder = stages.write(session, out_dir, config)
    publish_session_artifacts(session)
    return folder


def _called(stage_task: Task) -> Callable:
    """The task, called with its arguments opaque: Prefect would otherwise walk through every word, turn and
    utterance of its inputs (dataclasses are collections to it) looking for futures, twice per task
    (0.4 s per 10,000 words)."""
    return lambda *args: stage_task(*(opaque(arg) for arg in args))


def _recording_steps(out_dir: str, config: PipelineConfig) -> RecordingSteps:
    """The recording's stages as this flow's tasks; transcription and diarisation submitted to run together."""
    if config.cache.enabled:
        storage = private_cache_storage(out_dir, config)
        transcribe = transcribe_task.with_options(result_storage=storage)
        diarize = diarize_task.with_options(result_storage=storage)
    else:
        transcribe = transcribe_task.with_options(**_UNCACHED)
        diarize = diarize_task.with_options(**_UNCACHED)
    return RecordingSteps(
        load_audio=_called(load_audio_task), transcribe=transcribe.submit, diarize=diarize.submit,
        align=_called(align_task), voices=_called(voices_task), roles=_called(roles_task),
        code=_called(code_recording_task), write=_called(write_task), overview=_called(overview_task),
        learn_voice=_called(learn_voice_task),
    )


_TRANSCRIPT_STEPS = TranscriptSteps(read=_called(read_task), code=_called(code_session_task),
                                    write=_called(write_task), overview=_called(overview_task))


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
    job = RecordingJob(path, out_dir, config, coach, session_id)
    return str(run_recording(job, _recording_steps(out_dir, config), hook).folder)


@flow(name="code-transcript")
def code_transcript(
    path: str,
    out_dir: str,
    config: PipelineConfig,
    coach: str | None = None,
    hook: ProgressHook | None = None,
) -> str:
    """An existing transcript CSV (role, text[, start, end, speaker, backchannel]) in, session folder out."""
    return str(run_transcript(TranscriptJob(path, out_dir, config, coach), _TRANSCRIPT_STEPS, hook).folder)


@task(name="code-transcript", **_UNCACHED)
def code_transcript_task(job: TranscriptJob, hook: ProgressHook | None = None) -> str:
    """One transcript of a batch: its stages as tasks inside this one."""
    return str(run_transcript(job, _TRANSCRIPT_STEPS, hook).folder)


@flow(name="code-transcripts")
def code_transcripts(
    paths: list[str],
    out_dir: str,
    config: PipelineConfig,
    coach: str | None = None,
    hooks: list[ProgressHook] | None = None,
) -> list[BatchOutcome]:
    """Many transcripts in one flow run (a task each), the supervisor overview written once at the end.

    One flow run per transcript costs more than coding a short session; a batch pays it once.
    Returns ``(path, session folder, None)`` or ``(path, None, error message)`` per transcript: one
    bad transcript does not stop the others (its task run shows as failed in the Prefect UI).
    """
    batch = TranscriptBatch(paths, out_dir, config, coach, hooks or ())
    return run_transcript_batch(batch, code_transcript_task, _called(overview_task))
