import json
import stat

import pandas as pd
import pytest

from mifidelity.errors import MifidelityError
from mifidelity.outputs import write_session
from mifidelity.outputs.writers import ALL_FORMATS, WRITERS, parse_formats
from mifidelity.session import build_session
from mifidelity.types import Utterance

HOSTILE = "<script>alert(1)</script>"


def make_session(coder, session_id="s1"):
    utterances = [
        Utterance(0.0, 2.0, "SPEAKER_01", "What brings you here today?", "coach"),
        Utterance(2.5, 6.0, "SPEAKER_00", f"I want to stop {HOSTILE} drinking.", "client"),
        Utterance(6.5, 8.0, "SPEAKER_01", "You want to stop.", "coach"),
    ]
    return build_session(session_id=session_id, source="/data/s1.wav", utterances=utterances, coder=coder,
                         duration_seconds=60.0, timings={"audio": 0.1})


def test_session_files_and_columns(tmp_path, question_mark_coder):
    folder = write_session(make_session(question_mark_coder), tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["diarization.rttm", "report.html", "session.json", "transcript.srt",
                                                        "transcript.txt", "transcript.vtt", "utterances.csv"]
    summary = json.loads((folder / "session.json").read_text())
    for key in ("session_id", "source", "duration_seconds", "metrics", "models", "timings"):
        assert key in summary
    assert summary["metrics"]["questions"] == 1 and summary["metrics"]["reflection_to_question"] == 1.0
    assert summary["models"]["coding"]["engine"] == "test"
    table = pd.read_csv(folder / "utterances.csv", keep_default_na=False)
    assert list(table.columns[:10]) == ["start", "end", "speaker", "role", "text", "main_behaviour", "question",
                                        "reflection", "giving_information", "client_talk"]
    assert list(table["client_talk"]) == ["", "change", ""]  # codes that do not apply are empty
    assert list(table["question"]) == ["open", "", "none"]
    assert "[00:02 - 00:06] CLIENT (SPEAKER_00): I want to stop" in (folder / "transcript.txt").read_text()


def test_transcript_text_is_escaped_in_report(tmp_path, question_mark_coder):
    html = (write_session(make_session(question_mark_coder), tmp_path) / "report.html").read_text()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_outputs_are_private_and_replace_atomically(tmp_path, question_mark_coder):
    folder = write_session(make_session(question_mark_coder), tmp_path)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    (folder / "stale.txt").write_text("old")
    again = write_session(make_session(question_mark_coder), tmp_path)
    assert again == folder and not (folder / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["s1"]  # no temporary folders left behind


def test_formats_choose_the_files(tmp_path, question_mark_coder):
    folder = write_session(make_session(question_mark_coder), tmp_path, formats=["json", "vtt", "rttm"])
    assert sorted(p.name for p in folder.iterdir()) == ["diarization.rttm", "session.json", "transcript.vtt"]
    rttm = (folder / "diarization.rttm").read_text().splitlines()
    assert [line.split()[7] for line in rttm] == ["coach", "client", "coach"]
    assert "<v Client>I want to stop &lt;script&gt;" in (folder / "transcript.vtt").read_text()


def test_a_transcript_without_times_gets_no_timed_files(tmp_path, question_mark_coder):
    untimed = [Utterance(None, None, "coach", "What brings you here today?", "coach"),
               Utterance(None, None, "client", "My drinking.", "client")]
    session = build_session(session_id="t", source="/data/t.csv", utterances=untimed, coder=question_mark_coder,
                            timings={})
    folder = write_session(session, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "session.json", "transcript.txt", "utterances.csv"]


def test_format_names_are_checked():
    assert parse_formats("all") == list(ALL_FORMATS) == list(WRITERS)
    assert parse_formats(" VTT, json ,vtt") == ["json", "vtt"]
    for bad in ("pdf", "json,exe", ""):
        with pytest.raises(MifidelityError, match="format"):
            parse_formats(bad)
