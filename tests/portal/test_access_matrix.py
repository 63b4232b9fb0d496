"""Who may open what: anonymous, coach A, coach B and the supervisor against every route and every session.

Every cell's exact status is asserted; a session a user may not see answers exactly like one that
does not exist (404), and nothing without a login gets past the login page (303 to /login).
"""

import pytest

from portal.helpers import PLANTED, SEES, SESSIONS, WITH_RECORDING

USERS = (None, "Coach A", "Coach B", "boss")
MISSING = ("nope", "%2e%2e", "..%2f..%2fetc", "%2fetc%2fpasswd", "...")


def session_cells():
    for session in SESSIONS + PLANTED + MISSING:
        yield session, "GET", f"/sessions/{session}/"
        yield session, "GET", f"/sessions/{session}/recording"
        yield session, "GET", f"/sessions/{session}/utterances/0/feedback"
        yield session, "POST", f"/sessions/{session}/utterances/0/feedback"


def expected_session_status(user, session, method, path):
    if user is None:
        return 303
    if session not in SEES[user]:
        return 404
    if path.endswith("/recording"):
        return 200 if session in WITH_RECORDING else 404
    return 303 if method == "POST" else 200


def test_every_session_route_for_every_user(browsers):
    table, wrong = [], []
    for user in USERS:
        browser = browsers[user]
        for session, method, path in session_cells():
            if method == "GET":
                response = browser.get(path)
            else:
                response = browser.post(path, {"proposal": "question=closed", "comment": "matrix"})
            want = expected_session_status(user, session, method, path)
            table.append((user, method, path, response.status_code))
            if response.status_code != want:
                wrong.append((user or "anonymous", method, path, response.status_code, want))
            if user is None:
                assert response.headers["location"] == "/login"
    assert wrong == [], wrong
    assert len(table) == len(USERS) * (len(SESSIONS) + len(PLANTED) + len(MISSING)) * 4


GENERAL = [  # (method, path): status for anonymous, Coach A, Coach B, supervisor
    ("GET", "/login", (200, 303, 303, 303)),
    ("GET", "/", (303, 200, 200, 200)),
    ("GET", "/sessions.csv", (303, 200, 200, 200)),
    ("GET", "/corrections", (303, 404, 404, 200)),
    ("POST", "/corrections/999999/decision", (303, 404, 404, 404)),
    ("GET", "/sessions/", (303, 404, 404, 404)),  # no directory listing
    ("GET", "/index.html", (303, 404, 404, 404)),
    ("GET", "/.ledger.sqlite", (303, 404, 404, 404)),
    ("GET", "/a-first/report.html", (303, 404, 404, 404)),
    ("GET", "/sessions/a-first/report.html", (303, 404, 404, 404)),
    ("GET", "/sessions/a-first/session.json", (303, 404, 404, 404)),
    ("GET", "/sessions/a-first/utterances.csv", (303, 404, 404, 404)),
    ("GET", "/sessions/a-first/utterances/9999/feedback", (303, 404, 404, 404)),
    ("DELETE", "/sessions/a-first/", (303, 405, 405, 405)),
]


@pytest.mark.parametrize("method, path, statuses", GENERAL, ids=[f"{m} {p}" for m, p, _ in GENERAL])
def test_general_routes(browsers, method, path, statuses):
    got = []
    for user in USERS:
        browser = browsers[user]
        if method == "GET":
            response = browser.get(path)
        elif method == "POST":
            response = browser.post(path, {"decision": "accept"})
        else:
            response = browser.client.request(method, path)
        got.append(response.status_code)
    assert tuple(got) == statuses


def test_overview_lists_exactly_the_visible_sessions(browsers):
    for user in ("Coach A", "Coach B", "boss"):
        page = browsers[user].get("/").text
        listed = {s for s in SESSIONS + PLANTED if f'href="/sessions/{s}/"' in page}
        assert listed == SEES[user], user
        csv_text = browsers[user].get("/sessions.csv").text
        rows = {line.split(",")[0] for line in csv_text.splitlines()[1:]}
        assert rows == SEES[user], user
