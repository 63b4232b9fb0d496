"""The order of the stages and their timings, without Prefect: a transcript, a batch, the stage lists, the clock."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

import pytest

from mifidelity.config import PipelineConfig
from mifidelity.pipeline import (RECORDING_STAGES, TRANSCRIPT_STAGES, RecordingSteps, StageClock, TranscriptBatch,
                                 TranscriptJob, TranscriptSteps, run_transcript, run_transcript_batch, stages)
from support import ROOT

TRUTH = ROOT / "sample_audio" / "session1_alcohol.truth.csv"
RULES = PipelineConfig.model_validate({"coding": {"engine": "rules"}})


class Progress:
    """A progress hook that keeps what it was told."""

    def __init__(self):
        self.events = []

    def __call__(self, stage, fraction):
        self.events.append((stage, fraction))


def called(log, name, step):
    """``step``, noting its name in ``log`` before it runs."""
    def call(*args):
        log.append(name)
        return step(*args)
    return call


def steps_as_stages(steps_class) -> list[str]:
    return [field.name.replace("_", "-") for field in fields(steps_class)]


def test_each_stage_has_one_step_in_the_stage_order():
    assert steps_as_stages(RecordingSteps) == [stage.task for stage in RECORDING_STAGES]
    assert steps_as_stages(TranscriptSteps) == [stage.task for stage in TRANSCRIPT_STAGES]
    assert [s.timing for s in RECORDING_STAGES if s.timing] == ["audio", "transcribe", "diarize", "align", "voices",
                                                                "roles", "code", "write"]


def test_a_transcript_runs_read_code_write_then_the_overview(tmp_path):
    log, progress = [], Progress()
    steps = TranscriptSteps(**{field.name: called(log, field.name, getattr(TranscriptSteps(), field.name))
                               for field in fields(TranscriptSteps)})
    outcome = run_transcript(TranscriptJob(str(TRUTH), str(tmp_path), RULES, coach="Robin"), steps, progress)
    assert log == ["read", "code", "write", "overview"]
    assert outcome.folder == tmp_path / "session1_alcohol.truth" and (tmp_path / "index.html").is_file()
    # session.json has the stages that ended before it was written; the outcome has write too.
    written = json.loads((outcome.folder / "session.json").read_text())["timings"]
    assert list(written) == ["read", "code"] == list(outcome.session.timings)
    assert list(outcome.timings) == ["read", "code", "write"] and all(s >= 0 for s in outcome.timings.values())
    assert progress.events == [("read", 0.0), ("read", 1.0), ("code", 0.0), ("code", 1.0), ("write", 0.0),
                               ("write", 1.0)]
    assert outcome.session.session_id == "session1_alcohol.truth" and outcome.session.recorded_at is None


def test_a_transcript_of_a_batch_leaves_the_overview_to_the_batch(tmp_path):
    outcome = run_transcript(TranscriptJob(str(TRUTH), str(tmp_path), RULES, overview=False))
    assert outcome.folder.is_dir() and not (tmp_path / "index.html").exists()


def test_a_batch_goes_on_after_a_bad_transcript_and_writes_the_overview_once(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("who,said\ncoach,hi\n")
    out, overviews = tmp_path / "out", []
    batch = TranscriptBatch([str(bad), str(TRUTH)], str(out), RULES, hooks=[Progress(), Progress()])
    outcomes = run_transcript_batch(batch, lambda job, hook: run_transcript(job, hook=hook).folder,
                                    called(overviews, "overview", stages.overview))
    assert outcomes == [(str(bad), None, "the transcript needs the columns role and text; missing: role, text"),
                        (str(TRUTH), str(out / "session1_alcohol.truth"), None)]
    assert overviews == ["overview"] and "session1_alcohol" in (out / "index.html").read_text()


def test_a_batch_where_nothing_was_written_writes_no_overview(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("who,said\ncoach,hi\n")
    overviews = []
    outcomes = run_transcript_batch(TranscriptBatch([str(bad)], str(tmp_path / "out"), RULES),
                                    lambda job, hook: run_transcript(job, hook=hook).folder,
                                    called(overviews, "overview", stages.overview))
    assert outcomes[0][1] is None and overviews == [] and not (tmp_path / "out").exists()


def test_stages_run_together_each_timed_to_its_own_end():
    progress, diarized = Progress(), threading.Event()

    def hook(stage, fraction):
        progress(stage, fraction)
        if (stage, fraction) == ("diarize", 1.0):
            diarized.set()

    clock = StageClock(hook)
    with ThreadPoolExecutor(2) as pool:
        # transcribe ends only once diarize has ended (and been timed and reported).
        results = clock.together({
            "transcribe": lambda: pool.submit(lambda: diarized.wait(30) and "words"),
            "diarize": lambda: pool.submit(lambda: "turns"),
        })
    assert results == ["words", "turns"]
    assert list(clock.timings()) == ["diarize", "transcribe", "transcribe + diarize"]
    assert progress.events == [("transcribe", 0.0), ("diarize", 0.0), ("diarize", 1.0), ("transcribe", 1.0)]


def test_a_stage_that_fails_is_neither_timed_nor_reported_as_ended():
    progress = Progress()
    clock = StageClock(progress)
    with pytest.raises(ValueError, match="no audio"):
        with clock.stage("audio"):
            raise ValueError("no audio")
    assert clock.timings() == {} and progress.events == [("audio", 0.0)]


def test_the_clocks_timings_are_a_copy():
    clock = StageClock()
    with clock.stage("read"):
        pass
    taken = clock.timings()
    with clock.stage("code"):
        pass
    assert list(taken) == ["read"] and list(clock.timings()) == ["read", "code"]
