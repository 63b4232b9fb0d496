"""The recogniser's workers: pieces of a recording transcribed at the same time give the same words."""

import threading
from pathlib import Path

import pytest

from mifidelity.audio import load_recording
from mifidelity.config import AsrConfig
from mifidelity.transcription import faster_whisper_engine
from mifidelity.transcription.faster_whisper_engine import FasterWhisperTranscriber, chunk_bounds, worker_plan

SAMPLE = Path(__file__).resolve().parents[2] / "sample_audio" / "session2_exercise.ogg"


@pytest.mark.parametrize("workers, cpu_threads, cores, plan", [
    (0, 0, 2, (2, 1)),   # two cores: two one-thread workers
    (0, 0, 1, (1, 1)),
    (0, 0, 8, (2, 4)),   # more cores: each worker gets its share
    (1, 0, 2, (1, 2)),   # one worker: all the cores
    (3, 2, 2, (3, 2)),   # as configured
])
def test_worker_plan(workers, cpu_threads, cores, plan):
    assert worker_plan(AsrConfig(workers=workers, cpu_threads=cpu_threads), cores) == plan


def test_pieces_cover_the_recording_and_are_cut_near_their_length():
    recording = load_recording(SAMPLE)
    pieces = chunk_bounds(recording.samples, recording.sample_rate, 40.0)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(recording.samples)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
    seconds = [(end - begin) / recording.sample_rate for begin, end in pieces]
    assert len(pieces) == 4 and all(abs(s - 40) <= 10 for s in seconds[:-1]) and seconds[-1] <= 50


def test_two_workers_give_the_words_one_worker_gives_and_use_two_threads(monkeypatch):
    """A 140-second session cut into 40-second pieces: the same words and times either way, in order."""
    recording = load_recording(SAMPLE)
    monkeypatch.setattr(faster_whisper_engine, "CHUNK_SECONDS", 40.0)
    threads = set()
    piece = FasterWhisperTranscriber._transcribe_piece

    def recorded(self, *args):
        threads.add(threading.current_thread().name)
        return piece(self, *args)

    monkeypatch.setattr(FasterWhisperTranscriber, "_transcribe_piece", recorded)
    one = FasterWhisperTranscriber(AsrConfig(workers=1, cpu_threads=1)).transcribe(recording)
    assert len(threads) == 1
    threads.clear()
    progress = []
    two = FasterWhisperTranscriber(AsrConfig(workers=2, cpu_threads=1)).transcribe(
        recording, hook=lambda stage, fraction: progress.append(fraction))
    assert len(threads) == 2
    assert [(w.text, round(w.start, 2), round(w.end, 2)) for w in two.words] == \
        [(w.text, round(w.start, 2), round(w.end, 2)) for w in one.words]
    assert len(two.words) > 200
    starts = [w.start for w in two.words]
    assert starts == sorted(starts) and starts[-1] > 100  # later pieces are placed at their own times
    assert progress == sorted(progress) and 0.9 <= progress[-1] <= 1.0
