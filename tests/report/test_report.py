"""The session report, the supervisor overview and the Prefect artifacts."""

import base64
import csv
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mifidelity.outputs import session_summary, write_session
from mifidelity.report import render_session_report, static_script
from mifidelity.report.artifacts import artifact_key, session_markdown, session_table
from mifidelity.report.codes import utterance_codes
from mifidelity.report.highlights import missed_opportunities
from mifidelity.report.intervals import bootstrap_intervals
from mifidelity.report.overview import write_overview
from mifidelity.report.suggestions import suggestions
from mifidelity.session import build_session
from mifidelity.types import Utterance
from support import ROOT
from support.reports import ESCAPED, HOSTILE, NETWORK_REF, coded_session, hostile_transcript

SESSION_ROWS = [
    ("coach", "What brings you here today?", "open"),
    ("client", f"I want to cut down {HOSTILE} on drinking.", "change"),
    ("coach", "Do you drink every day?", "closed"),
    ("client", "I like a beer after work, it helps me relax.", "sustain"),
    ("coach", "Guidelines say no more than 14 units a week.", "info"),
    ("client", "My kids worry about me.", "change"),
    ("coach", "Your family matters a lot to you, and you want to be there for them.", "complex"),
    ("client", "Yes.", "neutral"),
    ("coach", "You want to cut down.", "simple"),
]


@pytest.fixture
def session():
    return coded_session(SESSION_ROWS)


# ----------------------------------------------------------------------------------------------- report

def test_report_escapes_transcript_text_and_coach(session):
    session.coach = HOSTILE
    html = render_session_report(session)
    assert HOSTILE not in html and "<script>alert" not in html
    assert ESCAPED in html
    assert html.count("<script") == 1  # only our own, hashed script


def test_report_is_self_contained_with_strict_csp(session):
    html = render_session_report(session)
    assert not NETWORK_REF.search(html)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp  # the browser runs exactly this script and nothing else
    assert script == static_script("report.js")
    assert "@media print" in html and 'name="viewport"' in html


def test_report_shows_scorecard_timeline_transcript_and_highlights(session):
    html = render_session_report(session)
    for anchor in ('id="scorecard"', 'id="timeline-plot"', 'id="transcript-table"', 'id="highlights"', 'id="next-time"'):
        assert anchor in html
    for tag in ("open question", "closed question", "complex reflection", "simple reflection", "change talk",
                "sustain talk", "giving information", "missed opportunity"):
        assert f">{tag}</span>" in html
    assert 'data-filter="r-complex"' in html and 'data-codes="reflection r-complex"' in html
    assert html.count('<tr id="u') == len(SESSION_ROWS)
    assert "95% CI" in html and "Coach A" in html
    assert 'class="mark q-open"' in html and 'class="mark ct-change"' in html and 'class="mark r-complex"' in html


def test_no_audio_player_when_recording_unreachable(session):
    assert "<audio" not in render_session_report(session)


def test_audio_player_refers_to_the_recording_relatively_without_copying(tmp_path, session):
    recordings = tmp_path / "inbox" / "alice"
    recordings.mkdir(parents=True)
    audio = recordings / "s1 take#2.wav"
    audio.write_bytes(b"RIFF0000WAVE")
    session.source = str(audio)
    before = audio.stat()
    html = render_session_report(session, report_dir=tmp_path / "out" / "s1")
    assert 'src="../../inbox/alice/s1%20take%232.wav"' in html
    assert audio.stat().st_mtime_ns == before.st_mtime_ns and audio.read_bytes() == b"RIFF0000WAVE"
    assert "media-src 'self' file:" in html
    absolute = render_session_report(session)  # folder unknown: a file: URL
    assert f'src="{audio.resolve().as_uri()}"' in absolute.replace("%20", "%20")


def test_written_report_is_private(tmp_path, question_mark_coder):
    utterances = [Utterance(0.0, 2.0, "SPEAKER_01", "What brings you here?", "coach"),
                  Utterance(2.5, 6.0, "SPEAKER_00", HOSTILE, "client")]
    folder = write_session(build_session(session_id="s1", source="/data/s1.wav", utterances=utterances,
                                         coder=question_mark_coder, duration_seconds=60.0), tmp_path)
    report = folder / "report.html"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert HOSTILE not in report.read_text() and ESCAPED in report.read_text()


# ----------------------------------------------------------------------------------------------- analysis

def test_codes_per_utterance():
    assert utterance_codes({"role": "coach", "question": "open", "reflection": "none", "giving_information": False}) == [
        "question", "q-open"]
    assert utterance_codes({"role": "client", "client_talk": "change"}) == ["ct-change"]


def test_missed_opportunities(session):
    rows = session.utterances.astype(object).where(session.utterances.notna(), None).to_dict(orient="records")
    missed = missed_opportunities(rows)
    assert [(m.kind, m.client, m.coach) for m in missed] == [("change", 1, 2), ("sustain", 3, 4)]


def test_bootstrap_intervals_cover_the_estimate_and_shrink_with_more_data(session):
    small = bootstrap_intervals(session.utterances)
    assert small == bootstrap_intervals(session.utterances)  # deterministic
    rq = small["reflection_to_question"]
    assert rq["basis"] == 2 and rq["low"] <= session.metrics.reflection_to_question <= rq["high"]
    big_frame = pd.concat([session.utterances] * 30, ignore_index=True)
    big = bootstrap_intervals(big_frame)["reflection_to_question"]
    assert big["high"] - big["low"] < rq["high"] - rq["low"]
    none = coded_session([("client", "hi", "neutral")])
    assert bootstrap_intervals(none.utterances)["reflection_to_question"]["low"] is None


def test_three_suggestions_from_the_numbers(session):
    rows = session.utterances.astype(object).where(session.utterances.notna(), None).to_dict(orient="records")
    found = suggestions(session.metrics, rows, missed_opportunities(rows))
    assert len(found) == 3 and len({s.title for s in found}) == 3
    text = " ".join(s.text for s in found)
    assert "2 questions" in text  # numbers of this session, not generic advice only
    good = coded_session([("coach", "What?", "open")] + [("coach", "You feel it.", "complex")] * 3)
    rows = good.utterances.astype(object).where(good.utterances.notna(), None).to_dict(orient="records")
    assert len(suggestions(good.metrics, rows, [])) == 3


def test_session_summary_is_valid_json_with_intervals_and_date(session):
    summary = session_summary(session)
    text = json.dumps(summary, default=str, allow_nan=False)  # no NaN anywhere
    assert "reflection_to_question" in summary["intervals"] and summary["recorded_at"] and summary["created"]
    assert summary["recorded_at_basis"] == "coded" and json.loads(text)["utterance_count"] == len(SESSION_ROWS)


# ----------------------------------------------------------------------------------------------- overview

def _write(tmp_path, session):
    return write_session(session, tmp_path)


def test_overview_lists_every_session_privately_and_escaped(tmp_path):
    _write(tmp_path, coded_session(SESSION_ROWS, "alpha", coach=HOSTILE))
    _write(tmp_path, coded_session(SESSION_ROWS[:5], "beta", coach="=HYPERLINK(\"x\")"))
    _write(tmp_path, coded_session(SESSION_ROWS, "gamma", coach=None))
    (tmp_path / ".cache").mkdir()
    index = write_overview(tmp_path)
    assert index == tmp_path / "index.html"
    for path in (index, tmp_path / "sessions.csv"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cache", "alpha", "beta", "gamma", "index.html", "sessions.csv"]
    html = index.read_text()
    assert HOSTILE not in html and ESCAPED in html and not NETWORK_REF.search(html)
    assert "I want to cut down" not in html  # metrics only, never transcript text
    for name in ("alpha", "beta", "gamma"):
        assert f'href="./{name}/report.html"' in html
    assert 'id="sessions"' in html and 'class="plot trend"' in html
    table = list(csv.DictReader(io.StringIO((tmp_path / "sessions.csv").read_text())))
    assert [row["session_id"] for row in table] == ["alpha", "beta", "gamma"]
    assert table[1]["coach"].startswith("'=")  # no formula injection in spreadsheets
    assert float(table[0]["reflection_to_question"]) == 1.0 and table[0]["reflection_to_question_low"]
    write_overview(tmp_path)  # rebuilding replaces in place, leaves no temporary file
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_overview_of_an_empty_folder(tmp_path):
    html = write_overview(tmp_path).read_text()
    assert "No sessions yet" in html
    assert (tmp_path / "sessions.csv").read_text().startswith("session_id,coach,date")


def test_overview_links_are_url_encoded(tmp_path):
    _write(tmp_path, coded_session(SESSION_ROWS, "javascript:alert(1)"))
    html = write_overview(tmp_path).read_text()
    assert 'href="./javascript%3Aalert%281%29/report.html"' in html and 'href="javascript:' not in html


# ----------------------------------------------------------------------------------------------- artifacts

def test_artifact_content_has_no_transcript_text(session):
    session.session_id = "Session 1 <b>"
    markdown = session_markdown(session)
    assert "cut down" not in markdown and "kids" not in markdown and "<b>" not in markdown
    assert "Reflections per question" in markdown and "Try next time" in markdown
    table = session_table(session)
    assert {"metric", "value", "low", "high", "rating"} <= set(table[0])
    assert artifact_key("Session 1 <b>") == "mi-session-1-b"


# ----------------------------------------------------------------------------------------------- the real command

def run_code_command(tmp_path: Path) -> Path:
    """`mifidelity code` on a transcript containing a script tag; returns OUT."""
    config = tmp_path / "rules.yaml"
    config.write_text("coding: {engine: rules}\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "mifidelity.cli", "code", str(hostile_transcript(tmp_path)), "--out", str(out),
               "--config", str(config), "--coach", f"Coach {HOSTILE}"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 0, result.stderr
    assert HOSTILE not in result.stderr and "drinking" not in result.stderr  # no transcript text in logs
    return out


@pytest.fixture(scope="module")
def coded_out(tmp_path_factory):
    return run_code_command(tmp_path_factory.mktemp("xss"))


@pytest.mark.slow
def test_code_command_report_escapes_script_tags(coded_out):
    html = (coded_out / "hostile" / "report.html").read_text()
    assert HOSTILE not in html and ESCAPED in html
    assert html.count("<script") == 1 and not NETWORK_REF.search(html)
    assert "question</span>" in html and "reflection</span>" in html and ">change talk</span>" in html


@pytest.mark.slow
def test_code_command_writes_an_escaped_overview(coded_out):
    index = coded_out / "index.html"
    assert index.is_file(), "flows/process_recording.py must call write_overview(out_dir) after write_session"
    html = index.read_text()
    assert HOSTILE not in html and ESCAPED in html and not NETWORK_REF.search(html)
    assert 'href="./hostile/report.html"' in html
    assert (coded_out / "sessions.csv").is_file()


# ----------------------------------------------------------------------------------------------- trends over dates

def test_trend_plots_place_sessions_by_their_date_so_a_months_gap_shows(tmp_path):
    from datetime import datetime, timezone

    from mifidelity.report.overview import load_sessions, trend_plot

    dates = {"first": datetime(2026, 1, 5, 10, tzinfo=timezone.utc), "next-day": datetime(2026, 1, 6, 10, tzinfo=timezone.utc),
             "a-month-later": datetime(2026, 2, 5, 10, tzinfo=timezone.utc)}
    for name, date in dates.items():
        session = coded_session(SESSION_ROWS, name)
        session.recorded_at = date
        _write(tmp_path, session)
    frame = load_sessions(tmp_path).sort_values("date").reset_index(drop=True)
    plot = trend_plot(frame, "reflection_to_question", {"Coach A": "#000"})
    xs = {p["session"]: p["x"] for p in plot["series"][0]["points"]}
    day_gap, month_gap = xs["next-day"] - xs["first"], xs["a-month-later"] - xs["next-day"]
    assert day_gap > 0 and 25 < month_gap / day_gap < 35  # 31 days against 1: the axis is time, not order
    assert any(t["label"].startswith("2026-02") or "Feb" in t["label"] for t in plot["x_ticks"])
    html = write_overview(tmp_path).read_text()
    assert "sessions in order" not in html


def test_sessions_on_one_day_still_get_a_date_axis(tmp_path):
    for name in ("one", "two"):
        _write(tmp_path, coded_session(SESSION_ROWS, name))  # coded together: the same moment
    html = write_overview(tmp_path).read_text()
    assert "sessions in order" not in html
    from datetime import datetime

    assert datetime.now().strftime("%Y-%m-%d") in html.split('id="trends"', 1)[1]
