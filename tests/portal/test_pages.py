"""The served report is the session's report.html with the portal's parts put in (see portal/pages.py)."""

import re

from portal.helpers import SECRET_TEXT, Browser


def test_every_transcript_row_gets_a_flag_link_and_the_player_points_at_the_portal(browsers):
    coach = browsers["Coach A"]
    page = coach.get("/sessions/a-first/").text
    rows = re.findall(r'<tr id="u(\d+)"', page)
    flags = re.findall(r'<a class="flag" href="/sessions/a-first/utterances/(\d+)/feedback"', page)
    assert rows and flags == rows
    assert '<audio id="player" controls preload="metadata" src="/sessions/a-first/recording">' in page
    assert "file:" not in page and "a-first.wav" not in page  # nothing about where the recording lives
    assert page.count('<nav class="portal-bar"') == 1 and SECRET_TEXT in page
    other = coach.get("/sessions/a-second/").text
    assert 'id="no-recording"' in other and "<audio" not in other


def test_the_static_report_is_left_as_it_was(portal_out, browsers):
    static = (portal_out / "a-first" / "report.html").read_text()
    assert 'http-equiv="Content-Security-Policy"' in static and "portal-bar" not in static and "flag a code" not in static
    served = browsers["Coach A"].get("/sessions/a-first/").text
    body = served.split('<section id="miti-summary"', 1)[1].split('<section id="transcript"', 1)[0]
    assert body in static  # the report's own sections are served unchanged


def test_a_report_view_builds_the_portal_bar_once(fresh_app, monkeypatch):
    portal = fresh_app.state.portal
    calls = []
    real_bar = portal._bar
    monkeypatch.setattr(portal, "_bar", lambda user: calls.append(user) or real_bar(user))
    boss = Browser(fresh_app)
    boss.login("boss")
    calls.clear()
    response = boss.get("/sessions/a-first/")
    assert response.status_code == 200 and response.text.count('<nav class="portal-bar"') == 1
    assert len(calls) == 1  # one count of open corrections per view, not one per part of the page
