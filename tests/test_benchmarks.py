"""Smoke test of the benchmark code (benchmarks/) on a ~20-second rendering.

Renders a tiny AnnoMI-shaped corpus (written here, not the real one) with the
real TTS voices, builds every variant, scores a perfect "pipeline output"
against the truth and writes the report, so `benchmarks/run_benchmarks.py`
cannot silently rot. The pipeline itself is not run (too slow for a unit test).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

needs_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("ffmpeg", "sox", "flite"))
    or importlib.util.find_spec("piper") is None or importlib.util.find_spec("psutil") is None,
    reason="needs ffmpeg, sox, flite, piper-tts and psutil",
)

UTTERANCES = [
    ("therapist", "How have things been going with the drinking since we last met?", "question", "open", None, None),
    ("client", "I cut down a lot, I really want to stay healthy.", None, None, None, "change"),
    ("therapist", "You are proud of the progress you made.", "reflection", None, "complex", None),
    ("client", "Yes, but weekends are still hard for me.", None, None, None, "sustain"),
    ("therapist", "Do you drink more on Saturdays?", "question", "closed", None, None),
    ("client", "Mostly on Saturdays with my friends.", None, None, None, "neutral"),
]


def write_corpus(folder: Path) -> Path:
    rows = []
    for tid in (0, 1):
        for i, (who, text, main, q, r, talk) in enumerate(UTTERANCES):
            rows.append({
                "mi_quality": "high", "transcript_id": tid, "video_title": "t", "video_url": "u", "topic": "x",
                "utterance_id": i, "interlocutor": who, "timestamp": "00:00:00", "utterance_text": text,
                "annotator_id": 1, "therapist_input_exists": "False" if who == "therapist" else "",
                "therapist_input_subtype": "", "reflection_exists": str(r is not None) if who == "therapist" else "",
                "reflection_subtype": r or "", "question_exists": str(q is not None) if who == "therapist" else "",
                "question_subtype": q or "",
                "main_therapist_behaviour": main or ("" if who == "client" else "other"),
                "client_talk_type": talk or "",
            })
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "AnnoMI-full.dev.csv", index=False)
    return folder


@needs_tools
def test_render_score_and_report(tmp_path):
    import measure
    import report
    import sessions

    corpus = write_corpus(tmp_path / "annomi")
    work = tmp_path / "work"
    recording = sessions.prepare(corpus, work, 20 / 60, "clean")
    truth = measure.read_truth(recording)
    assert 3 <= len(truth) and truth["end"].max() <= 20
    assert set(truth["role"]) == {"coach", "client"}
    assert recording.with_suffix(".rttm").exists()

    for variant in ("noise", "telephone", "backchannel", "stereo"):
        path = sessions.prepare(corpus, work, 20 / 60, variant)
        assert path.exists() and path.stat().st_size > 1000

    # a perfect pipeline output scores perfectly
    folder = tmp_path / "session"
    folder.mkdir()
    truth.to_csv(folder / "utterances.csv", index=False)
    from mifidelity.metrics import compute_metrics

    duration = float(truth["end"].max()) + 0.6
    session = {"metrics": compute_metrics(truth, duration).as_dict(), "duration_seconds": duration}
    scores = measure.accuracy(recording, folder, session)
    assert scores["wer"] == 0.0 and scores["role_accuracy"] == pytest.approx(1.0, abs=0.01)
    assert scores["der"] == pytest.approx(0.0, abs=0.01)
    assert scores["f1_main_behaviour"] == 1.0 and scores["f1_client_talk"] == 1.0
    assert scores["err_reflection_to_question"] == 0.0

    row = {"key": "k", "purpose": "length", "minutes": 20 / 60, "variant": "clean", "asr_engine": "faster-whisper",
           "model": "tiny.en", "diarizer": "auto", "diarizer_used": "embedding", "returncode": 0,
           "wall_s": 10.0, "duration_s": duration, "peak_rss_mb": 900.0, "load_before": 1.0, "load_after": 1.0,
           "t_startup": 3.0, "t_transcribe": 4.0, "t_diarize": 2.0, "t_code": 1.0, "rss_transcribe": 800.0, **scores}
    report.write(tmp_path / "docs", [row, {**row, "key": "k2", "minutes": 1.0, "duration_s": 3 * duration,
                                           "wall_s": 25.0}], [], {"cpus": 2})
    text = (tmp_path / "docs" / "benchmarks.md").read_text()
    assert "Linearity" in text and "| WER |" not in text.splitlines()[0]
    assert (tmp_path / "docs" / "benchmarks.csv").exists() and (tmp_path / "docs" / report.PLOT).exists()
    assert json.loads((work / "sessions" / f"{recording.stem}.transcripts.json").read_text())


def test_plan_lists_every_kind_of_run():
    import run_benchmarks

    keys = [line for line in _plan_keys(run_benchmarks)]
    assert "10min-clean-faster-whisper-tiny.en-auto" in keys
    assert "10min-clean-openai-whisper-tiny.en-auto" in keys
    assert "60min-clean-faster-whisper-tiny.en-auto" in keys
    assert any("telephone" in k for k in keys) and any("backchannel" in k for k in keys)


def _plan_keys(module):
    import argparse

    args = argparse.Namespace(lengths=[10, 30, 60], variant_minutes=10, models=["tiny.en", "base"],
                              compare_engines=["openai-whisper"], compare_models=["tiny.en"],
                              engine_max_minutes=10, variants=list(module.sessions.VARIANTS),
                              pyannote=False, unseen_minutes=13, unseen_skip=60)
    return [run.key for run in module.plan(args)]


def test_split_channel_benchmark_builds_its_conditions_and_finds_solo_speech():
    import numpy as np
    from pyannote.core import Annotation, Segment

    from split_channel_der import condition, solo_stretches

    reference = Annotation()
    reference[Segment(0.0, 3.0), 0] = "A"
    reference[Segment(2.5, 5.0), 1] = "B"  # 2.5-3.0 is overlap: no one's solo speech
    reference[Segment(5.0, 5.5), 2] = "A"  # too short to count
    assert solo_stretches(reference) == {"A": [(0.0, 2.5)], "B": [(3.0, 5.0)]}

    rng = np.random.default_rng(0)
    channels = np.stack([rng.normal(0, 0.01, 16000), np.zeros(16000)])
    channels[1, 8000:] = rng.normal(0, 0.2, 8000)
    plain = condition(channels)
    assert np.isclose(np.abs(plain).max(axis=1), 0.5, atol=1e-4).all()  # each side peaks at -6 dBFS
    assert np.allclose(plain * 32767, np.round(plain * 32767), atol=1e-3)  # 16-bit samples
    quiet_right = condition(channels, bleed=0.15, gain_right=0.1)
    assert np.abs(quiet_right[1, :8000]).max() > 0  # the left side's bleed reaches the right channel
    assert np.abs(quiet_right[1]).max() < 0.1


def test_twin_transcripts_scores_each_twin_against_its_annomi_transcripts_experts(tmp_path):
    from twin_transcripts import agreement, twin_sessions

    from mifidelity.metrics import compute_metrics

    coded = pd.DataFrame({
        "role": ["coach", "client", "coach", "client", "coach"],
        "main_behaviour": ["question", None, "reflection", None, "reflection"],
        "question": ["open", None, "none", None, "none"],
        "reflection": ["none", None, "complex", None, "simple"],
        "giving_information": [False, None, False, None, False],
        "client_talk": [None, "change", None, "sustain", None],
        "adherence": ["none", None, "none", None, "none"],
    })
    pd.concat([coded.assign(session="hlqc-high_001", annomi_transcript=7),
               coded.iloc[:3].assign(session="hlqc-low_002", annomi_transcript=9)]).to_csv(tmp_path / "twins.csv", index=False)
    experts = {7: {"reflection_to_question": 1.0, "pct_complex_reflections": 50.0, "pct_open_questions": 100.0,
                   "pct_change_talk": 50.0},
               9: {"reflection_to_question": 3.0, "pct_complex_reflections": 0.0, "pct_open_questions": 0.0,
                   "pct_change_talk": None}}
    sessions = twin_sessions(tmp_path / "twins.csv", experts)
    assert [(s["transcript_id"], s["version"]) for s in sessions] == [(7, "hlqc"), (9, "hlqc")]
    assert sessions[0]["counted"] == compute_metrics(coded).as_dict()
    assert sessions[0]["counted"]["reflection_to_question"] == 2.0  # two reflections, one question
    table = agreement(sessions).set_index("metric")
    assert table.loc["R:Q", "sessions"] == 2 and table.loc["%CT", "sessions"] == 1  # no expert value: left out
    assert table.loc["R:Q", "MAE counted"] == pytest.approx(1.5)  # median of |2 - 1| and |1 - 3|

    (tmp_path / "wrong.csv").write_text("role,main_behaviour\ncoach,question\n")
    with pytest.raises(ValueError, match="not an evaluate --hlqc-twins file"):
        twin_sessions(tmp_path / "wrong.csv", experts)
