"""End to end on the bundled sample sessions, through the real `mifidelity` command and Prefect flow."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mifidelity.metrics import EXPECTED_HEADLINE, compute_metrics
from mifidelity.training.pipeline_accuracy import (code_agreement, code_truth_text, codes_by_overlap,
                                                   role_time_accuracy, word_error_rate)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_audio"
AUDIO = sorted(p for p in SAMPLES.iterdir() if p.suffix in {".mp3", ".m4a", ".ogg", ".wav", ".flac"})

pytestmark = pytest.mark.slow


def mifidelity(*args, cwd=ROOT):
    command = [sys.executable, "-m", "mifidelity.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def truth_of(audio: Path) -> pd.DataFrame:
    return pd.read_csv(audio.with_suffix(".truth.csv"), keep_default_na=False)


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    assert len(AUDIO) >= 3, "sample_audio/ must hold the bundled sessions"
    out = tmp_path_factory.mktemp("out")
    result = mifidelity("process", SAMPLES, "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result


def test_every_sample_produces_all_outputs(processed):
    out, result = processed
    for audio in AUDIO:
        folder = out / audio.stem
        assert {p.name for p in folder.iterdir()} >= {"session.json", "utterances.csv", "transcript.txt", "report.html"}
        summary = json.loads((folder / "session.json").read_text())
        assert set(summary["models"]) == {"transcription", "diarization", "coding", "fidelity"}
        # The session estimates (issue 16): the samples are written as good MI.
        assert summary["mi_quality_probability"] > 0.5
        assert set(summary["globals"]) >= {"cultivating_change_talk", "softening_sustain_talk", "partnership",
                                           "empathy", "technical", "relational"}
        assert all(0 <= summary["globals"][k] <= 100 for k in ("technical", "relational"))  # indices, not 1-5
        assert "scale" in summary["globals"] and not any(k.endswith("_rating") for k in summary["globals"])
        assert summary["metrics"]["mi_non_adherent"] is not None
        assert set(pd.read_csv(folder / "utterances.csv").loc[lambda u: u["role"] == "coach", "adherence"]) <= {
            "none", "affirm", "seeking_collaboration", "emphasizing_autonomy", "persuade", "persuade_with_permission",
            "confront"}
        assert set(summary["timings"]) >= {"audio", "transcribe", "diarize", "align", "roles", "code"}
        assert summary["duration_seconds"] > 30
        # The trained coder's probabilities give a second, expected-count estimate of each ratio.
        expected = summary["expected_metrics"]
        assert expected["questions"] > 0 and expected["reflections"] > 0
        assert abs(expected["questions"] - summary["metrics"]["questions"]) <= max(2.0, 0.3 * summary["metrics"]["questions"])
        assert 0 <= expected["pct_open_questions"] <= 100
        # % open questions and % change talk are reported from the expected counts, the counted values kept beside.
        metrics = summary["metrics"]
        for name in EXPECTED_HEADLINE:
            if expected[name] is not None:
                assert metrics[name] == expected[name] and name in metrics["counted_values"]
        if metrics["counted_values"] and metrics["counted_values"].get("pct_open_questions") is not None:
            assert metrics["counted_values"]["pct_open_questions"] == round(
                100 * metrics["open_questions"] / metrics["questions"], 3)
        assert "Weighted by the coder's confidence: " in (folder / "report.html").read_text()
        assert f"[{AUDIO.index(audio) + 1}/{len(AUDIO)}] {audio.name}: transcribe" in result.stderr


@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_who_spoke_when_files_agree_with_the_reference(processed, audio):
    """diarization.rttm names speakers by role, so it scores directly against the sample's human-made RTTM."""
    import webvtt
    from pyannote.database.util import load_rttm
    from pyannote.metrics.identification import IdentificationErrorRate

    out, _ = processed
    folder = out / audio.stem
    (hypothesis,) = load_rttm(str(folder / "diarization.rttm")).values()
    (reference,) = load_rttm(str(audio.with_suffix(".rttm"))).values()
    assert set(hypothesis.labels()) == {"coach", "client"}
    # Identification error: labels are compared as they are (no optimal mapping), so a role swap counts.
    error = IdentificationErrorRate(collar=0.25, skip_overlap=True)(reference, hypothesis, detailed=True)
    assert error["confusion"] / error["total"] <= 0.05 and error["identification error rate"] <= 0.25, error
    captions = webvtt.read(str(folder / "transcript.vtt"))
    utterances = pd.read_csv(folder / "utterances.csv")
    assert len(captions) == len(utterances)
    assert {c.voice for c in captions} == {"Coach", "Client"}
    assert (folder / "transcript.srt").read_text().startswith("1\n")


@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_word_error_rate(processed, audio):
    out, _ = processed
    hypothesis = " ".join(pd.read_csv(out / audio.stem / "utterances.csv")["text"].astype(str))
    reference = " ".join(truth_of(audio)["text"])
    assert word_error_rate(reference, hypothesis) <= 0.15


@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_speech_time_goes_to_the_right_role(processed, audio):
    out, _ = processed
    pipeline = pd.read_csv(out / audio.stem / "utterances.csv")
    assert role_time_accuracy(truth_of(audio), pipeline) >= 0.90


@pytest.mark.parametrize("audio", AUDIO, ids=lambda p: p.name)
def test_metrics_recomputed_from_ground_truth_codes(processed, audio):
    out, _ = processed
    truth = truth_of(audio)
    truth["giving_information"] = truth["giving_information"].map(lambda v: str(v).lower() == "true" if v != "" else None)
    truth = truth.replace({"": None})
    pipeline = pd.read_csv(out / audio.stem / "utterances.csv")
    from_pipeline = compute_metrics(codes_by_overlap(pipeline, truth))
    from_truth = compute_metrics(truth)
    # A back-channel ("Yeah.") that the diariser gives to the other speaker merges two utterances: allow one.
    for name in ("questions", "open_questions", "reflections", "complex_reflections", "change_talk", "sustain_talk"):
        assert abs(getattr(from_pipeline, name) - getattr(from_truth, name)) <= 1, name
    assert from_pipeline.coach_talk_share == pytest.approx(from_truth.coach_talk_share, abs=0.05)


def test_trained_coder_on_the_pipeline_transcripts(processed):
    """The coder fed the pipeline's own transcripts (recognised words, diarised turns) against the truth codes.

    Pooled over the samples; each pipeline utterance takes the codes of the truth turn it overlaps
    most. It must agree about as well as the same coder on the truth transcripts' text.
    """
    from mifidelity.coding import get_coder
    from mifidelity.config import CodingConfig

    out, _ = processed
    coder = get_coder(CodingConfig()).load()
    pairs = {"pipeline": [], "truth text": []}
    for audio in AUDIO:
        truth = truth_of(audio)
        pipeline = pd.read_csv(out / audio.stem / "utterances.csv", keep_default_na=False)
        pairs["pipeline"].append((codes_by_overlap(pipeline, truth), pipeline))
        pairs["truth text"].append((codes_by_overlap(truth, truth), code_truth_text(truth, coder)))
    agreement = {transcript: code_agreement(pd.concat([r for r, _ in both], ignore_index=True),
                                            pd.concat([c for _, c in both], ignore_index=True))
                 for transcript, both in pairs.items()}
    for code, floor in (("main_behaviour", 0.80), ("question", 0.80), ("reflection", 0.60), ("client_talk", 0.55)):
        on_pipeline, on_text = agreement["pipeline"][code], agreement["truth text"][code]
        assert on_pipeline["n"] >= 40, code
        assert on_pipeline["accuracy"] >= floor, (code, on_pipeline)
        assert on_pipeline["accuracy"] >= on_text["accuracy"] - 0.10, (code, on_pipeline, on_text)


def test_code_command_keeps_one_row_per_input_row(tmp_path):
    truths = sorted(SAMPLES.glob("*.truth.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("who,said\ncoach,hi\n")
    result = mifidelity("code", *truths, bad, "--out", tmp_path / "out")
    assert result.returncode != 0
    assert f"{bad}: failed: the transcript needs the columns role and text" in result.stderr
    for truth in truths:
        coded = pd.read_csv(tmp_path / "out" / truth.stem / "utterances.csv", keep_default_na=False)
        original = pd.read_csv(truth, keep_default_na=False)
        assert list(coded["text"]) == list(original["text"])
        assert list(coded["role"]) == list(original["role"])
        coach = coded["role"] == "coach"
        assert set(coded.loc[coach, "main_behaviour"]) <= {"question", "reflection", "input", "other"}
        assert set(coded.loc[~coach, "client_talk"]) <= {"change", "sustain", "neutral"}
        assert (coded.loc[coach, "client_talk"] == "").all() and (coded.loc[~coach, "question"] == "").all()
    # The batch writes the supervisor overview once, after the last transcript: it lists every session.
    overview = (tmp_path / "out" / "index.html").read_text()
    assert all(truth.stem in overview for truth in truths)


def test_rerun_uses_the_cache(processed):
    out, _ = processed
    audio = AUDIO[0]
    result = mifidelity("process", audio, "--out", out)
    assert result.returncode == 0, result.stderr
    timings = json.loads((out / audio.stem / "session.json").read_text())["timings"]
    assert timings["transcribe"] < 1.0  # the cached transcript, not a new recognition


def test_bad_inputs_fail_one_line_each_and_others_continue(tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp3"
    text.write_text("not audio")
    good = AUDIO[0]
    result = mifidelity("process", empty, text, good, "--out", tmp_path / "out")
    assert result.returncode == 1
    failures = [line for line in result.stderr.splitlines() if ": failed: " in line]
    assert len(failures) == 2  # in the order they ended: recordings run in lanes (pipeline.lanes)
    assert f"{empty}: failed: the file is empty (0 bytes)" in failures
    assert any(line.startswith(f"{text}: failed: not a readable audio or video file (") for line in failures)
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out" / good.stem / "session.json").exists()


def test_openai_whisper_engine_through_the_command(tmp_path):
    # The owner's recogniser, offline: the bundled tiny.en is converted on first use.
    audio = AUDIO[1]
    result = mifidelity("process", audio, "--asr-engine", "openai-whisper", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / audio.stem / "session.json").read_text())
    assert summary["models"]["transcription"]["engine"] == "openai-whisper"
    hypothesis = " ".join(pd.read_csv(tmp_path / audio.stem / "utterances.csv")["text"].astype(str))
    assert word_error_rate(" ".join(truth_of(audio)["text"]), hypothesis) <= 0.15
