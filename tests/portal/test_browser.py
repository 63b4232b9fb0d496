"""The portal as people use it, in headless Chromium (Debian's) through Playwright, against a real server.

A coach logs in, reads a report (its own script runs under the portal's policy, the recording
plays from the portal), marks a code as wrong and logs out; the supervisor sees the disagreement
and accepts it; another coach cannot open the report. Screenshots go to the test's temporary
folder, and also to $MIFIDELITY_SCREENSHOTS when set (docs/screenshots for the documentation's
portal-*.png).
"""


import pytest

from mifidelity.portal.app import create_app
from mifidelity.portal.corrections import write_training_csv
from mifidelity.portal.server import BackgroundServer
from mifidelity.portal.tables import PortalStore

from portal.helpers import PASSWORDS, SECRET_TEXT, add_accounts, build_out
from support.browser import BROWSER_TEST, WatchedContext, save_screenshot

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    out = build_out(tmp_path_factory.mktemp("portal-browser"))
    store = PortalStore.for_out(out)
    add_accounts(store)
    with BackgroundServer(create_app(out, store=store)) as running:
        running.out, running.store = out, store
        yield running


class Person(WatchedContext):
    """One person at the portal: their own cookies, every request, dialog and console error recorded."""

    def __init__(self, browser, base: str, width=1280, height=900):
        super().__init__(browser, width, height)
        self.base = base

    def goto(self, path: str):
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")
        return response

    def log_in(self, name: str, password: str | None = None):
        self.goto("/login")
        self.page.fill("#username", name)
        self.page.fill("#password", password or PASSWORDS[name])
        self.page.click("#login-form button[type=submit]")
        self.page.wait_for_load_state("load")

    def check_clean(self):
        assert self.dialogs == [], "a dialog opened: text ran as script"
        assert self.errors == [], self.errors  # CSP violations are console errors too
        assert all(url.startswith(self.base) or url.startswith("data:") for url in self.requests), self.requests




def test_coach_reads_flags_a_code_and_supervisor_accepts(server, browser, tmp_path):
    coach = Person(browser, server.url)
    page = coach.page
    coach.goto("/sessions/a-first/")
    assert page.url == server.url + "/login"  # no login: the login page
    page.fill("#username", "Coach A")
    page.fill("#password", PASSWORDS["Coach A"])
    save_screenshot(page, tmp_path, "portal-login.png")
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state("load")

    # The overview: exactly Coach A's sessions, with their trends.
    assert page.url == server.url + "/"
    assert page.inner_text("#signed-in-as") == "Coach A"
    links = sorted(set(page.eval_on_selector_all("#sessions tbody a", "els => els.map(e => e.getAttribute('href'))")))
    assert links == ["/sessions/a-first/", "/sessions/a-second/"]
    assert page.locator("h1").first.inner_text() == "Your sessions, Coach A"

    # The report: its own script runs (filters), the recording comes from the portal.
    page.click("#sessions tbody a[href='/sessions/a-first/']")
    page.wait_for_load_state("load")
    assert SECRET_TEXT in page.inner_text("#transcript-table")
    assert page.get_attribute("audio#player", "src") == "/sessions/a-first/recording"
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=10000)
    page.click("#filters button[data-filter='question']")
    shown = page.eval_on_selector_all("#transcript-table tbody tr", "rows => rows.filter(r => !r.hidden).length")
    assert 0 < shown < page.locator("#transcript-table tbody tr").count()
    page.click("#filters button[data-filter='all']")
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, tmp_path, "portal-report.png")

    # Mark a code as wrong.
    page.click("#u3 a.flag")
    page.wait_for_load_state("load")
    assert page.inner_text("#utterance-text") == "What would you like us to look at first?"
    page.select_option("#proposal", "question=closed")
    page.fill("#comment", "It can be answered with yes or no. <b>not bold</b>")
    save_screenshot(page, tmp_path, "portal-feedback.png")
    page.click("#feedback-form button[type=submit]")
    page.wait_for_load_state("load")
    assert page.url == server.url + "/sessions/a-first/?sent=1#u3"
    panel = page.inner_text("#feedback")
    assert "closed" in panel and "<b>not bold</b>" in panel and "open" in panel
    save_screenshot(page.locator("#feedback"), tmp_path, "portal-report-feedback.png")

    # Log out: the report is gone with the session.
    page.click("#logout")
    page.wait_for_load_state("load")
    assert page.url == server.url + "/login"
    coach.goto("/sessions/a-first/")
    assert page.url == server.url + "/login"
    coach.check_clean()
    coach.close()

    # Another coach: the report does not exist for them.
    other = Person(browser, server.url)
    other.log_in("Coach B")
    response = other.goto("/sessions/a-first/")
    assert response.status == 404 and SECRET_TEXT not in other.page.content()
    other.close()

    # The supervisor: every session, the open disagreement, accept it.
    boss = Person(browser, server.url)
    boss.log_in("boss")
    links = set(boss.page.eval_on_selector_all("#sessions tbody a", "els => els.map(e => e.getAttribute('href'))"))
    assert links == {f"/sessions/{s}/" for s in ("a-first", "a-second", "b-first", "x-hostile", "nocoach")}
    boss.page.click("#open-corrections")
    boss.page.wait_for_load_state("load")
    row = boss.page.locator("li.correction[data-status='open']")
    assert row.count() == 1 and "Coach A" in boss.page.inner_text("section.feedback-panel h2")
    save_screenshot(boss.page, tmp_path, "portal-review.png")
    row.locator("button.accept").click()
    boss.page.wait_for_load_state("load")
    assert boss.page.locator("#nothing-open").count() == 1
    assert boss.page.locator("li.correction[data-status='accepted']").count() == 1
    boss.goto("/sessions/x-hostile/")  # script in the coach's name and the transcript stays text
    assert "<script>alert(1)</script>" in boss.page.inner_text("header")
    boss.check_clean()
    boss.close()

    summary = write_training_csv(server.store, server.out, tmp_path / "corrections.csv")
    assert summary.rows == 1 and "What would you like us to look at first?" in (tmp_path / "corrections.csv").read_text()


def test_phone_width_login_and_report(server, browser, tmp_path):
    person = Person(browser, server.url, width=390, height=844)
    person.log_in("Coach B")
    person.goto("/sessions/b-first/")
    assert person.page.locator("#transcript-table").is_visible()
    save_screenshot(person.page, tmp_path, "portal-report-phone.png")
    person.check_clean()
    person.close()
