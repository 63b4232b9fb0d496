"""What a coach and a supervisor read around feedback on codes (issue 27, items 7-11): the report's words on
the form, the turns around a flagged utterance on the review page, a mark and the decision on the coach's
report, the coach's own page, and no text that belongs to another case."""

import re
from html.parser import HTMLParser

from portal.helpers import Browser


class _VisibleText(HTMLParser):
    """The text a person reads on a page (not attribute values, not the style sheet)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def _row(html: str, index: int) -> str:
    return re.search(rf'<tr id="u{index}".*?</tr>', html, re.DOTALL).group(0)


def test_the_feedback_form_speaks_the_reports_words(browsers):
    form = browsers["Coach A"].get("/sessions/a-first/utterances/3/feedback").text  # coded open question, seeking collaboration
    text = visible_text(form)
    for internal in ("seeking_collaboration", "persuade_with_permission", "emphasizing_autonomy", "True", "False",
                     "main_behaviour", "giving_information", "client_talk", "MI adherence:"):
        assert internal not in text, internal
    for words in ("open question", "closed question", "seeking collaboration", "persuade with permission",
                  "not giving information", "Kind of turn"):
        assert words in text, words
    assert 'value="adherence=persuade_with_permission"' in form  # the form still sends the code itself
    client = visible_text(browsers["Coach A"].get("/sessions/a-first/utterances/1/feedback").text)
    assert "sustain talk" in client and "neutral client talk" in client and "client_talk" not in client


def test_the_review_page_shows_the_words_the_turns_around_them_and_who_flagged_when(fresh_app):
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A")
    boss.login("boss")
    assert coach.post("/sessions/a-first/utterances/3/feedback",
                      {"proposal": "adherence=none", "comment": "only a question"}).status_code == 303
    made = fresh_app.state.portal.corrections.for_session("a-first")[0]
    text = visible_text(boss.get("/corrections").text)
    for words in ("You have already made a start by coming here.",  # the turn before
                  "What would you like us to look at first?",  # the flagged one
                  "I like a beer after work <script>alert(1)</script>, it relaxes me."):  # the turn after
        assert words in text, words
    assert "Utterance 4" in text and "Coach A" in text and made.created_at.astimezone().strftime("%Y-%m-%d %H:%M") in text
    assert "seeking collaboration" in text and "none of these" in text and "seeking_collaboration" not in text
    assert "only a question" in text
    assert re.search(r"Coach\s+What would you like", text) and re.search(r"Client\s+I like a beer", text)


def test_a_flag_is_confirmed_marked_on_its_row_and_the_coach_later_sees_the_decision(fresh_app):
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A")
    boss.login("boss")
    before = coach.get("/sessions/a-first/").text
    assert "flagged-mark" not in _row(before, 3)
    sent = coach.post("/sessions/a-first/utterances/3/feedback", {"proposal": "question=closed"})
    location = sent.headers["location"]
    assert location.startswith("/sessions/a-first/?sent=") and location.endswith("#u3")
    page = coach.get(location).text
    confirmation = re.search(r'<p[^>]*id="feedback-sent"[^>]*>(.*?)</p>', page, re.DOTALL)
    assert confirmation and 'role="status"' in confirmation.group(0)
    assert "utterance 4" in visible_text(confirmation.group(1)).lower()
    row = _row(page, 3)
    assert "flagged-mark" in row and "closed question" in visible_text(row) and "waiting" in visible_text(row)
    assert "flagged-mark" not in _row(page, 4)
    assert 'id="feedback-sent"' not in coach.get("/sessions/a-first/").text  # confirmed once, not on every visit
    assert 'id="feedback-sent"' not in boss.get(location).text  # and only to the coach who sent it

    correction = fresh_app.state.portal.corrections.for_session("a-first")[0].id
    boss.post(f"/corrections/{correction}/decision", {"decision": "reject", "back": "/corrections"})
    later = coach.get("/sessions/a-first/").text
    assert "rejected" in visible_text(_row(later, 3))
    assert "Rejected by boss" in visible_text(later.split('id="feedback"', 1)[1])


def test_a_coach_has_their_own_page_and_the_supervisor_keeps_the_overview(browsers):
    mine = browsers["Coach A"].get("/").text
    text = visible_text(mine)
    for supervisors_only in ('id="coach-filter"', 'id="coaches"', "Trends per coach", "All sessions", "All coaches"):
        assert supervisors_only not in mine and supervisors_only not in text, supervisors_only
    assert 'href="/sessions/a-first/"' in mine and 'href="/sessions/a-second/"' in mine
    assert 'class="plot trend"' in mine and 'id="try-next"' in mine
    assert "Reflect before you ask again" in text or "Deepen your reflections" in text or "Keep the reflections coming" in text
    boss = browsers["boss"].get("/").text
    assert 'id="coach-filter"' in boss and 'id="coaches"' in boss


def test_no_leftover_text_from_another_case(browsers, portal_out):
    coach = browsers["Coach A"]
    transcript_coded = coach.get("/sessions/a-second/").text  # coded from /nowhere/s1.csv: there never was a recording
    assert "no longer reachable" not in transcript_coded
    assert "coded from a transcript" in visible_text(transcript_coded)
    for page in (transcript_coded, coach.get("/sessions/a-first/").text, coach.get("/").text, browsers["boss"].get("/").text):
        assert "self-contained and loads nothing from the network" not in page
    static = (portal_out / "a-first" / "report.html").read_text()
    assert "self-contained and loads nothing from the network" in static  # the file itself still says so
    static_transcript = (portal_out / "a-second" / "report.html").read_text()
    assert "coded from a transcript" in visible_text(static_transcript)


def test_a_coach_without_sessions_gets_their_page_too(fresh_app):
    from mifidelity.portal.accounts import Accounts
    from mifidelity.portal.tables import Role

    Accounts(fresh_app.state.portal.store).add("Coach C", Role.COACH, "coach-c-password")
    newcomer = Browser(fresh_app)
    assert newcomer.login("Coach C", "coach-c-password").status_code == 303
    page = newcomer.get("/")
    assert page.status_code == 200 and 'id="no-sessions"' in page.text and 'href="/sessions/' not in page.text


def test_what_to_try_next_is_read_back_from_the_report_as_the_report_computed_it():
    from mifidelity.portal.coach_page import report_suggestions
    from mifidelity.report import build_session_report, render_session_report
    from support.reports import fidelity_session

    session = fidelity_session("s", 0.4)
    expected = [{"title": s.title, "text": s.text} for s in build_session_report(session).suggestions]
    assert expected and report_suggestions(render_session_report(session)) == expected
    assert report_suggestions("<html><body>no report here</body></html>") == []
