"""A recording through the plain pipeline (no Prefect): every stage in order, timed, and the coach's voice learnt
only once the session is written. Real engines on 20 s of a sample session (the keyword coder)."""

import json
from dataclasses import fields, replace

import pytest

from mifidelity.config import PipelineConfig
from mifidelity.pipeline import RECORDING_STAGES, RecordingJob, RecordingSteps, ran_now, run_recording
from support.media import SESSION1, clip

pytestmark = pytest.mark.slow


def logged(log: list, steps: RecordingSteps, results: dict) -> RecordingSteps:
    """``steps`` noting each stage's name in ``log`` before it runs, and its result in ``results``."""
    def step(name, call):
        def run(*args):
            log.append(name)
            result = call(*args)
            results[name] = result
            return result
        return run
    return RecordingSteps(**{f.name: step(f.name.replace("_", "-"), getattr(steps, f.name)) for f in fields(steps)})


def arguments_of(steps: RecordingSteps, name: str, seen: dict) -> RecordingSteps:
    """``steps`` whose stage ``name`` also keeps the arguments it was called with in ``seen``."""
    call = getattr(steps, name)
    return replace(steps, **{name: lambda *args: seen.setdefault(name, args) and call(*args)})


def config(voices) -> PipelineConfig:
    return PipelineConfig.model_validate({"coding": {"engine": "rules"}, "roles": {"voice_profiles": str(voices)}})


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("plain")
    recording = clip(SESSION1, work / "short.mp3", 0, 20)
    log, results, progress = [], {}, []
    job = RecordingJob(str(recording), str(work / "out"), config(work / "voices"), coach="Robin")
    seen = {}
    steps = arguments_of(logged(log, RecordingSteps(), results), "code", seen)
    outcome = run_recording(job, steps, lambda s, f: progress.append((s, f)))
    return work, recording, log, results, progress, outcome, seen


def test_every_stage_runs_in_the_listed_order(first_run):
    _, _, log, _, _, outcome, _ = first_run
    assert log == [stage.task for stage in RECORDING_STAGES]
    assert outcome.folder.name == "short" and (outcome.folder.parent / "index.html").is_file()


def test_timings_of_every_timed_stage_reach_the_session(first_run):
    _, _, _, _, progress, outcome, _ = first_run
    before_writing = ["audio", "transcribe", "diarize", "transcribe + diarize", "align", "voices", "roles", "code"]
    written = json.loads((outcome.folder / "session.json").read_text())["timings"]
    assert sorted(written) == sorted(outcome.session.timings) == sorted(before_writing)
    assert list(written)[-4:] == ["align", "voices", "roles", "code"]
    assert sorted(outcome.timings) == sorted(before_writing + ["write"])
    timed = {stage for stage, _ in progress}
    assert {s.timing for s in RECORDING_STAGES if s.timing} <= timed
    for stage in ("audio", "align", "voices", "roles", "code", "write"):
        assert progress.index((stage, 0.0)) < progress.index((stage, 1.0)), stage


def test_the_coach_voice_is_learnt_after_writing(first_run):
    work, _, log, _, _, outcome, _ = first_run
    assert log.index("learn-voice") > log.index("write")
    assert outcome.voice == "learnt (1 sessions, 0 clips)", outcome.voice
    assert (work / "voices" / "Robin.npz").is_file()


def test_the_code_stage_gets_the_recordings_facts_not_its_waveform(first_run):
    _, recording, _, heard, _, outcome, seen = first_run
    (parts,) = seen["code"]
    assert not hasattr(parts.recording, "samples")  # the waveform was let go before the coder loaded
    decoded = heard["load-audio"]
    assert (parts.recording.source, parts.recording.content_sha256) == (decoded.source, decoded.content_sha256)
    assert parts.recording.duration == decoded.duration == outcome.session.duration_seconds


def test_a_session_that_is_not_written_teaches_nothing(first_run, tmp_path):
    _, recording, _, heard, _, _, _ = first_run
    # The same recording, its transcript and turns as the stage cache would give them; the output folder cannot be
    # made (it would lie inside a file), so writing fails after every stage before it has run.
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    replayed = RecordingSteps(transcribe=lambda *args: ran_now(heard["transcribe"].result),
                              diarize=lambda *args: ran_now(heard["diarize"].result))
    log = []
    job = RecordingJob(str(recording), str(blocked / "out"), config(tmp_path / "voices"), coach="Robin")
    with pytest.raises(OSError):
        run_recording(job, logged(log, replayed, {}))
    assert log[-2:] == ["code", "write"] and "voices" in log
    assert not (tmp_path / "voices" / "Robin.npz").exists()
