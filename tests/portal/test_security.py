"""The security the portal must have, one behaviour per test: cookies, CSRF, throttling, headers,
traversal, escaping, logs without transcript text, and no writes into session folders."""

import logging
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from mifidelity.portal.accounts import Accounts
from mifidelity.portal.security import SESSION_COOKIE
from mifidelity.portal.tables import utcnow

from portal.helpers import PASSWORDS, SECRET_TEXT, Browser, csrf_of
from support.reports import ESCAPED, HOSTILE


def cookie_header(response, name):
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(name + "="))


# -- cookies ---------------------------------------------------------------------------------------

def test_session_cookie_is_httponly_and_samesite_strict(portal_app):
    browser = Browser(portal_app)
    cookie = cookie_header(browser.login("Coach A"), SESSION_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would never come back


def test_session_cookie_is_secure_behind_https(portal_app):
    browser = Browser(portal_app, base_url="https://portal.example")
    response = browser.login("Coach A")
    cookie = cookie_header(response, SESSION_COOKIE)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "Secure" in cookie_header(Browser(portal_app, base_url="https://portal.example").get("/login"),
                                     "mifidelity_login_csrf")


def test_a_login_gets_a_new_session_and_logout_ends_it(fresh_app):
    browser = Browser(fresh_app)
    browser.client.cookies.set(SESSION_COOKIE, "planted-by-an-attacker", domain="127.0.0.1")  # session fixation attempt
    browser.login("Coach A")
    first = browser.client.cookies.get(SESSION_COOKIE, domain="127.0.0.1")
    assert first != "planted-by-an-attacker"
    assert browser.post("/logout").status_code == 303
    browser.login("Coach A")
    assert browser.client.cookies.get(SESSION_COOKIE, domain="127.0.0.1") != first
    browser.client.cookies.set(SESSION_COOKIE, first, domain="127.0.0.1")  # a copied cookie after logout
    assert browser.get("/sessions/a-first/").headers["location"] == "/login"


def test_password_change_and_removal_log_the_account_out(fresh_app):
    import time

    from mifidelity.portal.security import PortalSettings

    # `users passwd` / `users remove` run in another process: the portal sees them at its next recheck.
    fresh_app.state.portal.web_sessions.settings = PortalSettings(recheck_seconds=0.2)
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A")
    boss.login("boss")
    accounts = Accounts(fresh_app.state.portal.store)
    accounts.set_password("Coach A", "a-brand-new-password")
    accounts.remove("boss")
    time.sleep(0.25)
    assert coach.get("/").status_code == 303 and boss.get("/").status_code == 303
    assert coach.login("Coach A", "a-brand-new-password").status_code == 303


def test_idle_sessions_expire(fresh_app):
    browser = Browser(fresh_app)
    browser.login("Coach B")
    sessions = fresh_app.state.portal.web_sessions
    sessions.clock = lambda: utcnow() + timedelta(minutes=sessions.settings.idle_minutes + 1)
    assert browser.get("/").status_code == 303


# -- CSRF --------------------------------------------------------------------------------------------

def test_login_without_or_with_a_wrong_csrf_token_is_refused(fresh_app):
    browser = Browser(fresh_app)
    browser.get("/login")
    for extra in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}):
        response = browser.client.post("/login", data={"username": "Coach A", "password": PASSWORDS["Coach A"], **extra})
        assert response.status_code == 403
    fresh = Browser(fresh_app)  # a token from the page but no cookie (another browser's form)
    token = csrf_of(browser.get("/login").text)
    assert fresh.client.post("/login", data={"username": "Coach A", "password": PASSWORDS["Coach A"],
                                              "csrf_token": token}).status_code == 403
    assert SESSION_COOKIE not in browser.client.cookies and SESSION_COOKIE not in fresh.client.cookies


@pytest.mark.parametrize("path, data", [
    ("/logout", {}),
    ("/sessions/a-first/utterances/0/feedback", {"proposal": "question=closed", "comment": "forged"}),
    ("/corrections/1/decision", {"decision": "accept"}),
])
def test_posts_without_the_sessions_csrf_token_are_refused(fresh_app, path, data):
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A")
    boss.login("boss")
    coach.post("/sessions/a-first/utterances/2/feedback", {"proposal": "adherence=none"})  # correction 1, open
    for browser in (coach, boss):
        other = boss if browser is coach else coach
        for token in (None, "", "forged", other.csrf):
            fields = dict(data) if token is None else {**data, "csrf_token": token}
            assert browser.post(path, fields, csrf=False).status_code in (403, 404)
        # the right token, but sent from another site, or as JSON
        assert browser.post(path, data, headers={"origin": "https://evil.example"}).status_code in (403, 404)
        assert browser.client.post(path, json={**data, "csrf_token": browser.csrf}).status_code in (403, 404)
    corrections = fresh_app.state.portal.corrections.for_session("a-first")
    assert [(c.id, c.status.value) for c in corrections] == [(1, "open")]  # nothing forged got through
    assert coach.get("/").status_code == 200 and boss.get("/").status_code == 200  # still logged in


# -- throttling --------------------------------------------------------------------------------------

def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(fresh_app):
    browser = Browser(fresh_app)
    for _ in range(5):
        response = browser.login("Coach A", "wrong-password!")
        assert response.status_code == 401 and "Wrong name or password" in response.text
    response = browser.login("Coach A")  # the right password, past the throttle
    assert response.status_code == 429 and SESSION_COOKIE not in browser.client.cookies
    assert Browser(fresh_app).login("Coach B").status_code == 303  # other accounts still log in
    throttle = fresh_app.state.portal.throttle
    throttle.clock = lambda: utcnow() + timedelta(minutes=throttle.settings.throttle_minutes + 1)
    assert browser.login("Coach A").status_code == 303  # the window has passed


def test_wrong_passwords_from_one_address_do_not_lock_the_coach_out_elsewhere(fresh_app):
    """Knowing a coach's name must not let anyone keep that coach out (issue 27, bug 2)."""
    attacker = Browser(fresh_app, address="203.0.113.66")
    for _ in range(3):  # keep it up for a while: every try is refused, nothing is checked
        for _ in range(fresh_app.state.portal.settings.max_failures_per_account + 2):
            attacker.login("Coach A", "wrong-password!")
        assert attacker.login("Coach A").status_code == 429  # the attacker's address is locked for that name
    assert Browser(fresh_app, address="198.51.100.7").login("Coach A").status_code == 303  # the coach is not


def test_a_guess_spread_over_many_addresses_locks_the_account(fresh_app):
    settings = fresh_app.state.portal.settings
    per_address = settings.max_failures_per_account - 1
    for i in range(-(-settings.max_failures_per_account_everywhere // per_address)):
        for _ in range(per_address):
            Browser(fresh_app, address=f"203.0.113.{i + 1}").login("Coach A", "wrong-password!")
    assert Browser(fresh_app, address="198.51.100.7").login("Coach A").status_code == 429


def test_many_failures_from_one_address_lock_that_address(fresh_app):
    browser = Browser(fresh_app)
    limit = fresh_app.state.portal.settings.max_failures_per_address
    for i in range(limit):
        assert browser.login(f"guess-{i}", "whatever-password").status_code == 401
    assert browser.login("boss").status_code == 429


def test_unknown_names_and_wrong_passwords_look_the_same(fresh_app):
    unknown = Browser(fresh_app).login("nobody-here", "whatever-password")
    wrong = Browser(fresh_app).login("Coach A", "whatever-password")
    assert unknown.status_code == wrong.status_code == 401
    assert re.sub(r'value="[^"]*"', "", unknown.text) == re.sub(r'value="[^"]*"', "", wrong.text).replace(
        "Coach A", "nobody-here")


# -- headers -------------------------------------------------------------------------------------------

def test_strict_headers_on_every_kind_of_response(browsers):
    coach = browsers["Coach A"]
    responses = {
        "report": coach.get("/sessions/a-first/"),
        "feedback": coach.get("/sessions/a-first/utterances/1/feedback"),
        "overview": coach.get("/"),
        "recording": coach.get("/sessions/a-first/recording"),
        "not found": coach.get("/sessions/b-first/"),
        "login": browsers[None].get("/login"),
        "redirect": browsers[None].get("/"),
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers["x-frame-options"] == "DENY", name
        assert headers["cache-control"] == "no-store", name
        assert headers["x-content-type-options"] == "nosniff", name
        csp = headers["content-security-policy"]
        assert csp.startswith("default-src 'none'") and "frame-ancestors 'none'" in csp, name
        assert not re.search(r"https?:|\*|data: .*script|'unsafe-eval'", csp.split("img-src")[0]), name
        assert "script-src 'none'" in csp or re.search(r"script-src ('sha256-[^']+' ?)+;", csp), name
    assert responses["report"].status_code == 200 and SECRET_TEXT in responses["report"].text
    assert "http-equiv=\"Content-Security-Policy\"" not in responses["report"].text  # the header governs


# -- traversal -------------------------------------------------------------------------------------------

TRAVERSALS = [
    "/sessions/%2e%2e/", "/sessions/%2e%2e%2f%2e%2e%2fetc%2fpasswd/", "/sessions/..%2f..%2fetc%2fpasswd/",
    "/sessions/%252e%252e/", "/sessions/%2Fetc%2Fpasswd/", "/sessions//etc/passwd/", "/sessions/a-first/..%2fb-first/",
    "/sessions/a-first%2f..%2fb-first/", "/sessions/..%5c..%5cetc/", "/sessions/evil/", "/sessions/linked/",
    "/sessions/evil/recording", "/%2e%2e/%2e%2e/etc/passwd", "/sessions/%2e%2e/%2e%2e/etc/passwd",
    "/sessions/a-first/utterances/-1/feedback", "/sessions/a-first/utterances/1e9/feedback",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_attempts_get_nothing(browsers, path):
    for user in ("Coach A", "boss"):
        response = browsers[user].get(path)
        assert response.status_code == 404, (user, path, response.status_code)
        assert "root:" not in response.text and "stolen" not in response.text
    response = browsers[None].get(path)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_a_symlinked_report_is_not_followed(fresh_app, tmp_path):
    out = fresh_app.state.portal.library.out_dir
    outside = tmp_path / "stolen.html"
    outside.write_text("<html><body>stolen secrets</body></html>")
    report = out / "b-first" / "report.html"
    report.unlink()
    report.symlink_to(outside)
    boss = Browser(fresh_app)
    boss.login("boss")
    response = boss.get("/sessions/b-first/")
    assert response.status_code == 404 and "stolen" not in response.text


# -- escaping ----------------------------------------------------------------------------------------------

def test_script_in_a_comment_and_in_a_coach_name_is_shown_as_text(fresh_app):
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A")
    boss.login("boss")
    assert coach.post("/sessions/a-first/utterances/0/feedback",
                      {"proposal": "question=closed", "comment": HOSTILE}).status_code == 303
    assert boss.post("/sessions/x-hostile/utterances/0/feedback",
                     {"proposal": "question=closed", "comment": f'"><img src=x onerror=alert(1)>{HOSTILE}'}).status_code == 303
    pages = [coach.get("/sessions/a-first/").text, boss.get("/corrections").text, boss.get("/").text,
             boss.get("/sessions/x-hostile/").text, boss.get("/sessions/x-hostile/utterances/0/feedback").text,
             boss.get("/sessions/x-hostile/utterances/1/feedback").text]
    for page in pages:
        assert HOSTILE not in page and "<img src=x" not in page
    assert ESCAPED in pages[0] and ESCAPED in pages[1] and ESCAPED in pages[2] and ESCAPED in pages[3]
    login = Browser(fresh_app)
    page = login.login(HOSTILE, "whatever-password").text
    assert HOSTILE not in page and ESCAPED in page


# -- logs and the output folder -------------------------------------------------------------------------

def folder_state(out: Path) -> dict:
    state = {}
    for root, dirs, files in os.walk(out):
        for name in dirs + files:
            path = Path(root) / name
            if name.startswith(".ledger.sqlite"):
                continue
            info = path.lstat()
            state[str(path.relative_to(out))] = (info.st_size, info.st_mtime_ns, info.st_mode)
    return state


def test_no_transcript_text_in_logs_and_no_writes_into_session_folders(fresh_app, caplog):
    out = fresh_app.state.portal.library.out_dir
    before = folder_state(out)
    caplog.set_level(logging.DEBUG)
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A")
    boss.login("boss")
    assert SECRET_TEXT in coach.get("/sessions/a-first/").text
    assert SECRET_TEXT in coach.get("/sessions/a-first/utterances/1/feedback").text
    coach.post("/sessions/a-first/utterances/1/feedback", {"proposal": "client_talk=sustain", "comment": "not change"})
    boss.post("/corrections/1/decision", {"decision": "accept"})
    coach.get("/sessions/a-first/recording")
    coach.get("/sessions.csv")
    coach.post("/logout")
    assert caplog.records, "the portal logs what happens"
    assert SECRET_TEXT not in caplog.text and "Philippa" not in caplog.text
    assert folder_state(out) == before


def test_no_unused_script_hash_helper():
    from mifidelity.portal import security

    assert not hasattr(security, "script_hash")  # report.templating hashes the report's scripts; one home for it


# -- recordings --------------------------------------------------------------------------------------

def _add_session(app, session_id: str, coach: str, source: str) -> None:
    from mifidelity.outputs import write_session
    from support.reports import coded_session

    session = coded_session([("coach", "What brings you here?", "open")], session_id=session_id, coach=coach)
    session.source = source
    write_session(session, app.state.portal.library.out_dir)
    app.state.portal.library._scanned_at = -float("inf")  # rescan now


def test_a_symlinked_recording_is_not_followed(fresh_app, tmp_path):
    from portal.helpers import silent_wav

    secret_audio = silent_wav(tmp_path / "secret-audio.wav")
    secret_text = tmp_path / "secret.txt"
    secret_text.write_text("stolen secrets")
    inbox = tmp_path / "inbox" / "Coach A"
    inbox.mkdir(parents=True)
    (inbox / "s1.wav").symlink_to(secret_text)
    (inbox / "s2.wav").symlink_to(secret_audio)
    (inbox / "s3.txt").write_text("stolen secrets")  # not audio: never served, even as a real file
    silent_wav(inbox / "s4.wav")  # a real recording: served
    for name in ("s1.wav", "s2.wav", "s3.txt", "s4.wav"):
        _add_session(fresh_app, name.split(".")[0], "Coach A", str(inbox / name))
    coach = Browser(fresh_app)
    coach.login("Coach A")
    for session_id in ("s1", "s2", "s3"):
        response = coach.get(f"/sessions/{session_id}/recording")
        assert response.status_code == 404 and b"stolen" not in response.content, session_id
        assert 'id="no-recording"' in coach.get(f"/sessions/{session_id}/").text  # and no player for it
    assert coach.get("/sessions/s4/recording").content == (inbox / "s4.wav").read_bytes()
    assert coach.get("/sessions/s4/recording", headers={"range": "bytes=0-9"}).status_code == 206
    # Swapped for a symlink after the library found it: refused at serving time too.
    (inbox / "s4.wav").unlink()
    (inbox / "s4.wav").symlink_to(secret_audio)
    response = coach.get("/sessions/s4/recording")
    assert response.status_code == 404 and response.content != secret_audio.read_bytes()


def test_a_recording_swapped_between_check_and_read_is_refused(tmp_path):
    import asyncio

    from mifidelity.portal.app import RecordingResponse
    from mifidelity.portal.library import UnsafeFile, recording_stat
    from portal.helpers import silent_wav

    path = silent_wav(tmp_path / "s.wav")
    checked = recording_stat(path)
    other = silent_wav(tmp_path / "other.wav", seconds=1.0)
    os.replace(other, path)  # same size, another file: what a race would put there
    sent = []

    async def receive():  # the client stays connected
        await asyncio.sleep(60)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "extensions": {"http.response.pathsend": {}}}
    with pytest.raises(UnsafeFile):
        asyncio.run(RecordingResponse(path, checked)(scope, receive, send))
    assert not any(m.get("body") for m in sent if m["type"] == "http.response.body")


def _parallel_logins(app, monkeypatch, password: str, count: int) -> tuple[list[int], list[str]]:
    """``count`` browsers post the login form at the same moment, each password check taking 0.2 s (scrypt at
    production cost: every request is in flight before any is checked). Returns the statuses and the passwords
    that were actually checked."""
    import threading
    import time

    from mifidelity.portal import accounts as accounts_module

    checked = []
    real_verify = accounts_module.verify_password

    def slow_verify(typed, stored):
        checked.append(typed)
        time.sleep(0.2)
        return real_verify(typed, stored)

    monkeypatch.setattr(accounts_module, "verify_password", slow_verify)
    browsers = [Browser(app) for _ in range(count)]
    pages = [b.client.get("/login") for b in browsers]
    statuses = []
    start = threading.Barrier(count)

    def login(browser, page):
        start.wait()
        response = browser.client.post("/login", data={"username": "Coach A", "password": password,
                                                       "csrf_token": csrf_of(page.text)})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=login, args=pair) for pair in zip(browsers, pages)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, checked


def test_parallel_wrong_passwords_cannot_get_past_the_throttle(fresh_app, monkeypatch):
    statuses, checked = _parallel_logins(fresh_app, monkeypatch, "wrong-password!", 15)
    limit = fresh_app.state.portal.settings.max_failures_per_account
    assert sorted(statuses) == [401] * limit + [429] * (15 - limit)
    assert len(checked) == limit  # only as many passwords were tried as the throttle allows
    assert Browser(fresh_app).login("Coach A").status_code == 429  # from that address the right one is refused too
    assert Browser(fresh_app, address="198.51.100.7").login("Coach A").status_code == 303  # from another it is not


def test_parallel_right_passwords_all_get_in(fresh_app, monkeypatch):
    """One coach on eight tabs at once: every right password logs in, none is refused (issue 27, bug 1)."""
    statuses, checked = _parallel_logins(fresh_app, monkeypatch, PASSWORDS["Coach A"], 8)
    assert statuses == [303] * 8 and len(checked) == 8


def test_a_right_password_forgives_its_own_attempt(fresh_app):
    browser = Browser(fresh_app)
    for _ in range(4):
        assert browser.login("Coach A", "wrong-password!").status_code == 401
    assert browser.login("Coach A").status_code == 303
    for _ in range(4):  # the count started again
        assert Browser(fresh_app).login("Coach A", "wrong-password!").status_code == 401
    assert Browser(fresh_app).login("Coach A").status_code == 303


def test_the_player_finds_a_watched_recording_in_the_archive(fresh_app, tmp_path):
    """`mifidelity watch` moves the original to INBOX/archive/ after processing; session.json keeps the inbox path."""
    from portal.helpers import silent_wav

    inbox = tmp_path / "inbox"
    archive = inbox / "archive" / "Coach A"
    archive.mkdir(parents=True)
    archived = silent_wav(archive / "w1.wav")
    (archive / "w2.wav").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("stolen secrets")
    ledger = fresh_app.state.portal.store.ledger
    for session_id in ("w1", "w2"):
        name = f"Coach A/{session_id}.wav"
        entry = ledger.register(session_id * 4, name, "Coach A", [session_id])
        assert entry.session_id == session_id
        ledger.set_moved(entry.sha256, f"archive/{name}")
        _add_session(fresh_app, session_id, "Coach A", str(inbox / name))  # no longer there
    coach = Browser(fresh_app)
    coach.login("Coach A")
    assert coach.get("/sessions/w1/recording").content == archived.read_bytes()
    assert 'id="no-recording"' not in coach.get("/sessions/w1/").text
    response = coach.get("/sessions/w2/recording")  # the archive holds a planted link: refused like any other
    assert response.status_code == 404 and b"stolen" not in response.content
