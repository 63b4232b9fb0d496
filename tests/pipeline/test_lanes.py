"""The batch scheduler (pipeline.lanes): several recordings at once, within a budget, nothing lost."""

import threading
import time
from pathlib import Path

import pytest

from mifidelity.config import PipelineConfig
from mifidelity.pipeline.lanes import recording_lanes, recording_minutes, run_in_lanes


SAMPLES = Path(__file__).resolve().parents[2] / "sample_audio"


class Tracker:
    """A run() that records how many items (and how much size) were in flight at once."""

    def __init__(self, sizes=None, seconds=0.05, fail=()):
        self.sizes, self.seconds, self.fail = sizes or {}, seconds, set(fail)
        self.lock = threading.Lock()
        self.running: dict = {}
        self.most_at_once = 0
        self.most_size = 0.0
        self.started: list = []
        self.threads: set = set()

    def __call__(self, item):
        with self.lock:
            self.running[item] = self.sizes.get(item, 0.0)
            self.started.append(item)
            self.threads.add(threading.current_thread().name)
            self.most_at_once = max(self.most_at_once, len(self.running))
            self.most_size = max(self.most_size, sum(self.running.values()))
        time.sleep(self.seconds)
        with self.lock:
            del self.running[item]
        if item in self.fail:
            raise ValueError(f"item {item} failed")
        return item * 10


def test_one_lane_runs_each_item_in_the_callers_thread_in_order():
    run = Tracker()
    outcomes = list(run_in_lanes(range(4), run, lanes=1))
    assert [o.item for o in outcomes] == [0, 1, 2, 3] == run.started
    assert [o.result for o in outcomes] == [0, 10, 20, 30]
    assert run.threads == {threading.current_thread().name} and run.most_at_once == 1


def test_two_lanes_run_two_items_at_a_time_and_every_item_ends_once():
    run = Tracker(seconds=0.1)
    began = time.perf_counter()
    outcomes = list(run_in_lanes(range(6), run, lanes=2))
    assert sorted(o.item for o in outcomes) == list(range(6))
    assert all(o.error is None and o.result == o.item * 10 for o in outcomes)
    assert run.most_at_once == 2
    assert run.started == list(range(6))  # started in the order given
    assert time.perf_counter() - began < 6 * 0.1  # they did overlap


def test_a_failing_item_is_its_own_outcome_and_the_others_still_run():
    for lanes in (1, 2):
        outcomes = {o.item: o for o in run_in_lanes(range(5), Tracker(fail={1, 3}), lanes=lanes)}
        assert sorted(outcomes) == list(range(5))
        assert {i for i, o in outcomes.items() if o.error is not None} == {1, 3}
        assert isinstance(outcomes[1].error, ValueError) and outcomes[1].result is None
        assert outcomes[4].result == 40


def test_items_run_beside_each_other_only_within_the_budget_and_a_big_one_runs_alone():
    sizes = {0: 30.0, 1: 30.0, 2: 50.0, 3: 90.0, 4: 10.0, 5: 10.0}
    run = Tracker(sizes=sizes, seconds=0.05)
    outcomes = list(run_in_lanes(list(sizes), run, lanes=2, size=sizes.get, budget=70.0))
    assert sorted(o.item for o in outcomes) == list(sizes)
    assert run.most_size <= 90.0  # item 3 (over the budget) ran, alone
    # Never two items together above the budget.
    run2 = Tracker(sizes={0: 40.0, 1: 40.0, 2: 40.0}, seconds=0.05)
    list(run_in_lanes([0, 1, 2], run2, lanes=2, size=run2.sizes.get, budget=70.0))
    assert run2.most_at_once == 1


def test_when_the_caller_stops_no_further_item_starts_and_the_running_ones_finish():
    run = Tracker(seconds=0.1)
    outcomes = run_in_lanes(range(10), run, lanes=2)
    first = next(outcomes)
    outcomes.close()  # e.g. Ctrl-C in the caller
    assert first.error is None
    assert len(run.started) <= 4 and not run.running  # nothing left running, the rest never started


def test_lanes_follow_the_recognisers_workers(monkeypatch):
    config = PipelineConfig()
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert recording_lanes(config) == 2
    assert recording_lanes(config.model_copy(update={"asr": config.asr.model_copy(update={"workers": 1})})) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert recording_lanes(config) == 1
    whisper = config.model_copy(update={"asr": config.asr.model_copy(update={"engine": "openai-whisper"})})
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert recording_lanes(whisper) == 1  # openai-whisper has no workers to share


def test_recording_minutes_come_from_ffprobe_and_an_unreadable_file_counts_zero(tmp_path):
    config = PipelineConfig()
    minutes = recording_minutes(SAMPLES / "session2_exercise.ogg", config)
    assert minutes == pytest.approx(139.9 / 60, abs=0.02)
    junk = tmp_path / "not-audio.wav"
    junk.write_bytes(b"not audio at all")
    assert recording_minutes(junk, config) == 0.0
