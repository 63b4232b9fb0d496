"""SessionReport: what the template reads, gathered once; thresholds and audio suffixes from their one home."""

from dataclasses import FrozenInstanceError

import pytest
from jinja2 import meta

from mifidelity.audio import AUDIO_EXTENSIONS
from mifidelity.metrics import THRESHOLDS
from mifidelity.report import SessionReport, build_session_report
from mifidelity.report.templating import environment
from mifidelity.report.session_facts import find_recording
from support.reports import ROWS, coded_session, fidelity_session


def test_the_template_reads_the_session_report_only():
    env = environment()
    source = env.loader.get_source(env, "session.html.j2")[0]
    assert meta.find_undeclared_variables(env.parse(source)) == {"report", "csp", "script"}


def test_session_report_is_typed_and_frozen():
    report = build_session_report(fidelity_session())
    assert isinstance(report, SessionReport)
    assert len(report.utterances) == len(ROWS) == report.n_coach + report.n_client
    assert report.non_adherent_moments and report.miti["estimated"]
    with pytest.raises(FrozenInstanceError):
        report.verdict = "changed"


def test_footnote_thresholds_come_from_the_table():
    text = build_session_report(coded_session([("coach", "What?", "open")])).thresholds_text
    assert text == "reflections per question fair ≥ 1, good ≥ 2; complex reflections fair ≥ 40%, good ≥ 50%"
    good = {t.metric: t.good for t in THRESHOLDS}
    assert f"good ≥ {good['reflection_to_question']:g};" in text and f"good ≥ {good['pct_complex_reflections']:g}%" in text


def test_recording_beside_a_transcript_is_found_by_audio_py_suffixes(tmp_path):
    transcript = tmp_path / "s1.truth.csv"
    transcript.write_text("role,text\n")
    assert find_recording(str(transcript)) is None
    assert ".mkv" in AUDIO_EXTENSIONS  # one the report's own list used to miss
    (tmp_path / "s1.mkv").write_bytes(b"")
    assert find_recording(str(transcript)) == tmp_path / "s1.mkv"
    (tmp_path / "s1.truth.wav").write_bytes(b"")  # the full name goes first
    assert find_recording(str(transcript)) == tmp_path / "s1.truth.wav"
    (tmp_path / "s1.truth.flac").write_bytes(b"")  # then suffixes in alphabetical order
    assert find_recording(str(transcript)) == tmp_path / "s1.truth.flac"


def test_roles_line_says_what_decided_and_how_sure():
    """Issue 18: the header names the coach's speaker, by voice or by what was said, and any disagreement."""
    from dataclasses import replace

    from mifidelity.report import render_session_report
    from mifidelity.types import RoleAssignment

    session = coded_session([("coach", "What?", "open")])
    assert build_session_report(session).roles_text is None   # a transcript: roles were given
    speakers = {"SPEAKER_01": "coach", "SPEAKER_00": "client"}
    voice = RoleAssignment("SPEAKER_01", speakers, 0.97, "voice", {
        "voice": {"coach": "Robin", "recognised": True, "coach_speaker": "SPEAKER_01", "confidence": 0.97},
        "language": {"coach_speaker": "SPEAKER_00", "confidence": 0.9}})
    text = build_session_report(replace(session, roles=voice)).roles_text
    assert text == ("SPEAKER_01 is the coach, by voice (Robin's voice profile); confidence 0.97; "
                    "what was said pointed to SPEAKER_00 (confidence 0.90)")
    assert "<dt>Roles</dt><dd>SPEAKER_01 is the coach, by voice (Robin&#39;s voice profile)" in \
        render_session_report(replace(session, roles=voice))
    language = RoleAssignment("SPEAKER_01", speakers, 0.99, "language cues")
    assert build_session_report(replace(session, roles=language)).roles_text == \
        "SPEAKER_01 is the coach, by what was said; confidence 0.99"
