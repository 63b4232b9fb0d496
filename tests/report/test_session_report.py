"""SessionReport: what the template reads, gathered once; thresholds and audio suffixes from their one home."""

from dataclasses import FrozenInstanceError, fields, is_dataclass

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


def _loose_parts(value, path: str = "report"):
    """Where a value holds dicts or lists rather than dataclasses and tuples (paths like report.miti.ratios)."""
    if is_dataclass(value) and not isinstance(value, type):
        for field in fields(value):
            yield from _loose_parts(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, dict):
        yield path
        for item in value.values():
            yield from _loose_parts(item, f"{path}[]")
    elif isinstance(value, list):
        yield path
    elif isinstance(value, tuple):
        for item in value:
            yield from _loose_parts(item, f"{path}[]")


def test_session_report_is_typed_and_frozen():
    report = build_session_report(fidelity_session())
    assert isinstance(report, SessionReport)
    assert len(report.utterances) == len(ROWS) == report.n_coach + report.n_client
    assert report.non_adherent_moments and report.miti.estimated and report.strengths and report.missed
    with pytest.raises(FrozenInstanceError):
        report.verdict = "changed"
    with pytest.raises(FrozenInstanceError):
        report.cards[0].band.zones[0].x = 0.0
    # Every part the sections make is a frozen dataclass or a tuple of them; the only mappings are keyed look-ups.
    parts = [field.name for field in fields(report) if field.name not in ("session", "metrics")]
    loose = {path for name in parts for path in _loose_parts(getattr(report, name), f"report.{name}")}
    assert loose == {"report.intervals", "report.tag_labels", "report.timeline.lanes"}
    assert list(_loose_parts({"a": [1]})) == ["report", "report[]"]  # the walk finds what it looks for


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
