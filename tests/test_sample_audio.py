"""The bundled sample recordings and their ground truth are consistent (fast, offline, no TTS).

Checks the committed files in sample_audio/ (made by sample_audio/make_samples.py
from sample_audio/scripts/*.yaml) and the held-out scripts in benchmarks/heldout_scripts/.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_audio"
SCRIPTS = sorted((SAMPLES / "scripts").glob("*.yaml"))
HELDOUT = sorted((ROOT / "benchmarks" / "heldout_scripts").glob("*.yaml"))
AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".flac"}
AUDIO = sorted(p for p in SAMPLES.iterdir() if p.suffix in AUDIO_SUFFIXES)
EXPECTED = {"session1_alcohol.mp3": 1, "session2_exercise.ogg": 1, "session3_smoking_stereo.m4a": 2}
COLUMNS = ["start", "end", "role", "text", "main_behaviour", "question", "reflection",
           "giving_information", "client_talk"]
COACH_LABELS = {
    "main_behaviour": {"question", "reflection", "input", "other"},
    "question": {"none", "open", "closed"},
    "reflection": {"none", "simple", "complex"},
    "giving_information": {"true", "false"},
}
CLIENT_LABELS = {"change", "sustain", "neutral"}
RATE = 16000

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="ffmpeg/ffprobe not installed")


def truth(audio: Path) -> pd.DataFrame:
    return pd.read_csv(audio.with_suffix(".truth.csv"), dtype=str, keep_default_na=False)


@functools.lru_cache(maxsize=None)
def make_samples():
    """sample_audio/make_samples.py as a module (it imports no TTS until it renders)."""
    spec = importlib.util.spec_from_file_location("mifidelity_make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def probe(audio: Path) -> dict:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=channels,codec_name",
                             "-of", "json", str(audio)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def decode(audio: Path, channels: int) -> np.ndarray:
    """(samples, channels) float array at 16 kHz."""
    result = subprocess.run(["ffmpeg", "-v", "error", "-i", str(audio), "-f", "s16le", "-ac", str(channels),
                             "-ar", str(RATE), "-"], capture_output=True, check=True)
    return np.frombuffer(result.stdout, dtype="<i2").reshape(-1, channels).astype(np.float64) / 32768


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x ** 2) + 1e-12)


def test_the_committed_set_is_complete():
    assert [p.name for p in AUDIO] == sorted(EXPECTED)
    assert [p.stem for p in SCRIPTS] == [Path(name).stem for name in sorted(EXPECTED)]
    for audio in AUDIO:
        for suffix in (".truth.csv", ".rttm", ".txt"):
            assert audio.with_suffix(suffix).is_file(), audio.with_suffix(suffix)
        assert audio.stat().st_size < 1.5 * 1024 * 1024, f"{audio.name} is too big"
    # make_samples renders to sample_audio/ only; the pipeline reads the folder recursively.
    assert not [p for p in (SAMPLES / "scripts").rglob("*") if p.suffix in AUDIO_SUFFIXES]


@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_truth_codes_are_complete_and_valid(audio):
    table = truth(audio)
    assert list(table.columns) == COLUMNS
    assert set(table["role"]) == {"coach", "client"}
    assert (table["text"].str.strip() != "").all()
    coach, client = table[table["role"] == "coach"], table[table["role"] == "client"]
    for column, labels in COACH_LABELS.items():
        assert set(coach[column]) <= labels, column
        assert (client[column] == "").all(), column
    assert set(client["client_talk"]) <= CLIENT_LABELS
    assert (coach["client_talk"] == "").all()
    # One behaviour per turn: the sub-codes follow the main behaviour.
    is_question, is_reflection = coach["main_behaviour"] == "question", coach["main_behaviour"] == "reflection"
    assert (coach.loc[is_question, "question"] != "none").all() and (coach.loc[~is_question, "question"] == "none").all()
    assert (coach.loc[is_reflection, "reflection"] != "none").all()
    assert (coach.loc[~is_reflection, "reflection"] == "none").all()
    assert (coach.loc[coach["giving_information"] == "true", "main_behaviour"] == "input").all()
    # A realistic mix of everything the metrics count.
    assert {"open", "closed"} <= set(coach["question"])
    assert {"simple", "complex"} <= set(coach["reflection"])
    assert "true" in set(coach["giving_information"])
    assert set(client["client_talk"]) == CLIENT_LABELS


@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_turn_times_increase_without_overlap(audio):
    table = truth(audio)
    start, end = table["start"].astype(float).to_numpy(), table["end"].astype(float).to_numpy()
    assert start[0] >= 0 and (end > start).all()
    gaps = start[1:] - end[:-1]
    assert (gaps >= 0.3 - 1e-3).all() and (gaps <= 1.2 + 1e-3).all()


@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_rttm_and_txt_match_the_truth(audio):
    table = truth(audio)
    rows = [line.split() for line in audio.with_suffix(".rttm").read_text().splitlines() if line.strip()]
    assert len(rows) == len(table)
    for fields, (_, turn) in zip(rows, table.iterrows()):
        assert len(fields) == 10
        assert fields[0] == "SPEAKER" and fields[1] == audio.stem and fields[2] == "1"
        assert fields[5:7] == ["<NA>", "<NA>"] and fields[8:] == ["<NA>", "<NA>"]
        assert float(fields[3]) == pytest.approx(float(turn["start"]), abs=1e-3)
        assert float(fields[4]) == pytest.approx(float(turn["end"]) - float(turn["start"]), abs=2e-3)
        assert fields[7] == turn["role"]
    assert audio.with_suffix(".txt").read_text().strip() == " ".join(table["text"])


@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_truth_matches_its_script(audio):
    script = yaml.safe_load((SAMPLES / "scripts" / f"{audio.stem}.yaml").read_text())
    table = truth(audio)
    assert len(table) == len(script["turns"])
    for turn, (_, row) in zip(script["turns"], table.iterrows()):
        assert row["role"] == turn["speaker"] and row["text"] == str(turn["text"]).strip()
        for column in COLUMNS[4:]:
            expected = turn.get(column, "")
            assert row[column] == (str(expected).lower() if isinstance(expected, bool) else expected), column
    assert script["render"]["format"] == audio.suffix[1:]
    assert bool(script["render"].get("stereo")) == (EXPECTED[audio.name] == 2)


@pytest.mark.parametrize("script", SCRIPTS + HELDOUT, ids=lambda p: p.name)
def test_scripts_are_valid(script):
    loaded = make_samples().load_script(script)  # validates labels and one-behaviour-per-turn
    assert 25 <= len(loaded.turns) <= 40
    assert {t.speaker for t in loaded.turns} == {"coach", "client"}
    # No one-word turn at the very beginning.
    assert all(len(t.text.split()) > 3 for t in loaded.turns[:2])


def test_heldout_scripts_are_not_in_the_sample_set():
    assert len(HELDOUT) == 3
    sample_texts = {t["text"] for s in SCRIPTS for t in yaml.safe_load(s.read_text())["turns"]}
    heldout_texts = {t["text"] for s in HELDOUT for t in yaml.safe_load(s.read_text())["turns"]}
    long_shared = {t for t in sample_texts & heldout_texts if len(t.split()) > 4}
    assert not long_shared
    assert not {p.stem for p in HELDOUT} & {p.stem for p in AUDIO}


def test_truth_is_a_valid_transcript_for_mifidelity_code():
    from mifidelity.transcript_input import read_transcript_csv

    for audio in AUDIO:
        utterances = read_transcript_csv(audio.with_suffix(".truth.csv"))
        assert [u.role for u in utterances] == list(truth(audio)["role"])
        assert all(u.start is not None and u.end is not None for u in utterances)


@needs_ffmpeg
@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_duration_and_channels(audio):
    info = probe(audio)
    duration = float(info["format"]["duration"])
    assert 60 <= duration <= 200
    assert [s["channels"] for s in info["streams"]] == [EXPECTED[audio.name]]
    assert float(truth(audio)["end"].astype(float).max()) <= duration


@needs_ffmpeg
@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_speech_is_where_the_truth_says(audio):
    """Every turn is loud; the pauses between turns are silent (so the times fit the audio)."""
    samples = decode(audio, 1)[:, 0]
    table = truth(audio)
    start, end = table["start"].astype(float).to_numpy(), table["end"].astype(float).to_numpy()
    for s, e in zip(start, end):
        assert rms_db(samples[int(s * RATE): int(e * RATE)]) > -40
    for e, s in zip(end[:-1], start[1:]):
        gap = samples[int((e + 0.05) * RATE): int((s - 0.05) * RATE)]
        assert len(gap) == 0 or rms_db(gap) < -55


@needs_ffmpeg
def test_stereo_file_has_one_speaker_per_channel():
    audio = SAMPLES / "session3_smoking_stereo.m4a"
    samples = decode(audio, 2)
    table = truth(audio)
    for _, turn in table.iterrows():
        piece = samples[int(float(turn["start"]) * RATE): int(float(turn["end"]) * RATE)]
        left, right = rms_db(piece[:, 0]), rms_db(piece[:, 1])
        own, other = (left, right) if turn["role"] == "coach" else (right, left)
        assert own > -40 and own - other > 30, (turn["role"], turn["text"], left, right)
