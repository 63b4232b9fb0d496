"""Several recordings of a batch at the same time: a plain scheduler, no Prefect, no clock.

On two cores one recogniser worker per recording keeps both cores busy, where one recording's two threads
kept only 1.5 busy (``transcription.faster_whisper_engine.worker_plan``). So a batch runs its recordings
in lanes, as many as the recogniser has workers. What is held per recording grows with its length, so a
recording starts beside others only while the minutes in flight stay within a budget; one longer than the
budget runs alone. The stages that are not safe to share run one recording at a time
(``pipeline.stages.one_recording_at_a_time``).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Generic, Iterable, Iterator, TypeVar

if TYPE_CHECKING:
    from mifidelity.config import PipelineConfig

Item = TypeVar("Item")
Result = TypeVar("Result")

LANE_BUDGET_MINUTES = 70.0  # recordings run beside each other while their minutes in flight stay within this
# (what grows with a recording's length is held per lane; a 66-minute recording alone peaks under 2 GB)


@dataclass(frozen=True)
class LaneOutcome(Generic[Item, Result]):
    """One item's end: its result, or the exception it raised."""

    item: Item
    result: Result | None
    error: BaseException | None


def run_in_lanes(items: Iterable[Item], run: Callable[[Item], Result], lanes: int,
                 size: Callable[[Item], float] = lambda item: 0.0,
                 budget: float = float("inf")) -> Iterator[LaneOutcome[Item, Result]]:
    """``run(item)`` for each item, up to ``lanes`` at a time; outcomes in the order they end.

    Items start in the order given. An item starts beside the running ones only while their ``size`` plus
    its own stays within ``budget``; with nothing running, any item starts. With one lane every item runs in
    the caller's thread, one after the other. An exception ends only its own item. When the caller stops
    iterating (or is interrupted), no further item starts and the running ones are waited for.
    """
    if lanes <= 1:
        for item in items:
            try:
                yield LaneOutcome(item, run(item), None)
            except Exception as exc:  # noqa: BLE001 - reported as this item's outcome
                yield LaneOutcome(item, None, exc)
        return
    ended: queue.Queue = queue.Queue()
    room = threading.Condition()
    running: dict[int, float] = {}
    stop = threading.Event()

    def one(key: int, item: Item) -> None:
        try:
            outcome = LaneOutcome(item, run(item), None)
        except Exception as exc:  # noqa: BLE001 - reported as this item's outcome
            outcome = LaneOutcome(item, None, exc)
        with room:
            del running[key]
            room.notify_all()
        ended.put(outcome)

    def feed() -> None:
        threads = []
        for key, item in enumerate(items):
            weight = size(item)
            with room:
                room.wait_for(lambda: stop.is_set() or not running
                              or (len(running) < lanes and sum(running.values()) + weight <= budget))
                if stop.is_set():
                    break
                running[key] = weight
            thread = threading.Thread(target=one, args=(key, item), name=f"lane-{key}")
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        ended.put(None)

    feeder = threading.Thread(target=feed, name="lanes")
    feeder.start()
    try:
        while (outcome := ended.get()) is not None:
            yield outcome
    finally:
        stop.set()
        with room:
            room.notify_all()
        feeder.join()


def recording_lanes(config: PipelineConfig) -> int:
    """How many recordings of a batch run at the same time: one per worker of the recogniser (faster-whisper)."""
    if config.asr.engine != "faster-whisper":
        return 1
    from mifidelity.transcription.faster_whisper_engine import worker_plan

    return worker_plan(config.asr)[0]


def recording_minutes(path, config: PipelineConfig) -> float:
    """A recording's length in minutes for the lanes' budget (0 where ffprobe cannot tell: decoding will say why)."""
    from mifidelity.audio import ffprobe_beside, probe_audio

    try:
        return (probe_audio(path, ffprobe_beside(config.audio.ffmpeg)).duration or 0.0) / 60
    except Exception:  # noqa: BLE001 - a file ffprobe cannot read fails in its own run, with the reason
        return 0.0
