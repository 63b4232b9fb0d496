"""What a person sees at 390 px (a phone) and 1,400 px (a laptop), in Debian's Chromium (issue 27, items 5-10).

A coach flags a code with a 2,000-character comment without spaces, in a session whose transcript holds
a 2,000-character word; no page may become wider than the window (the Accept and Reject buttons stay
on screen), the supervisor decides on the review page alone, and the coach sees the mark and then the
decision. Screenshots go to the test's folder and to $MIFIDELITY_SCREENSHOTS when set.
"""

from datetime import datetime, timezone

import pytest

from mifidelity.outputs import write_session
from mifidelity.portal.app import create_app
from mifidelity.portal.server import BackgroundServer
from mifidelity.portal.tables import PortalStore
from mifidelity.report.overview import write_overview

from portal.helpers import add_accounts, build_out
from portal.test_browser import Person
from support.browser import BROWSER_TEST, save_screenshot
from support.reports import fidelity_session

pytestmark = BROWSER_TEST

LONG_WORD = "x" * 2000
WIDTHS = (390, 1400)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    out = build_out(tmp_path_factory.mktemp("portal-layout"))
    long = fidelity_session("a-long-words", 0.55, coach="Coach A")
    long.utterances.loc[1, "text"] = f"I want to cut down {LONG_WORD} on drinking."
    long.recorded_at = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    write_session(long, out)
    # Earlier sessions of Coach A, with a month's gap, so the trend shows time
    for name, probability, date in (("a-september", 0.22, datetime(2026, 9, 2, 9, tzinfo=timezone.utc)),
                                    ("a-early-october", 0.4, datetime(2026, 10, 6, 14, tzinfo=timezone.utc))):
        earlier = fidelity_session(name, probability, coach="Coach A")
        earlier.recorded_at = date
        write_session(earlier, out)
    write_overview(out)
    store = PortalStore.for_out(out)
    add_accounts(store)
    with BackgroundServer(create_app(out, store=store)) as running:
        yield running


def fits(person: Person) -> None:
    width = person.page.evaluate("document.scrollingElement.scrollWidth")
    window = person.page.evaluate("window.innerWidth")
    assert width <= window, f"{person.page.url} is {width}px wide in a {window}px window"


def on_screen(person: Person, selector: str) -> None:
    box = person.page.locator(selector).first.bounding_box()
    window = person.page.evaluate("window.innerWidth")
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= window, (selector, box, window)


def test_a_flag_with_a_long_comment_from_the_coach_to_the_supervisor_and_back(server, browser, tmp_path):
    coach = Person(browser, server.url, width=1400, height=900)
    coach.log_in("Coach A")
    fits(coach)
    coach.goto("/sessions/a-long-words/")
    fits(coach)  # a 2,000-character word in the transcript
    coach.page.click("#u3 a.flag")
    coach.page.wait_for_load_state("load")
    assert "seeking_collaboration" not in coach.page.inner_text("main")
    coach.page.select_option("#proposal", "question=closed")
    coach.page.fill("#comment", LONG_WORD)
    coach.page.click("#feedback-form button[type=submit]")
    coach.page.wait_for_load_state("load")
    assert coach.page.locator("#feedback-sent").is_visible()
    assert "closed question" in coach.page.inner_text("#u3 .flagged-mark")
    fits(coach)
    save_screenshot(coach.page, tmp_path, "portal-report-flagged.png")
    coach.page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(coach.page, tmp_path, "portal-report-sent.png")

    for width in WIDTHS:
        boss = Person(browser, server.url, width=width, height=900)
        boss.log_in("boss")
        fits(boss)
        boss.goto("/corrections")
        fits(boss)
        on_screen(boss, "#correction-1 button.accept")
        on_screen(boss, "#correction-1 button.reject")
        said = boss.page.inner_text("#correction-1 .turns")
        assert "What would you like us to look at first?" in said and "Flagged by Coach A" in boss.page.inner_text("#correction-1")
        save_screenshot(boss.page, tmp_path, "portal-review-long-comment.png" if width == 1400 else "portal-review-phone.png",
                        full_page=True)
        if width == WIDTHS[-1]:  # decided on the last look
            boss.page.locator("#correction-1 button.reject").click()
            boss.page.wait_for_load_state("load")
            assert boss.page.locator("#nothing-open").count() == 1
        boss.check_clean()
        boss.close()

    coach.goto("/sessions/a-long-words/")
    assert "rejected" in coach.page.inner_text("#u3 .flagged-mark")
    assert "Rejected by boss" in coach.page.inner_text("#feedback")
    coach.check_clean()
    coach.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_the_window(server, browser, tmp_path, width):
    suffix = "-phone" if width == 390 else ""
    coach = Person(browser, server.url, width=width, height=844 if width == 390 else 900)
    coach.log_in("Coach A")
    assert coach.page.locator("#coach-filter").count() == 0 and coach.page.locator("#my-trend svg.trend").count() == 4
    fits(coach)
    save_screenshot(coach.page, tmp_path, f"portal-overview-coach{suffix}.png", full_page=True)
    for path in ("/sessions/a-first/", "/sessions/a-long-words/", "/sessions/a-long-words/utterances/1/feedback",
                 "/sessions/a-first/utterances/3/feedback"):
        coach.goto(path)
        fits(coach)
    if width == 390:
        save_screenshot(coach.page, tmp_path, "portal-feedback-phone.png", full_page=True)
    coach.check_clean()
    coach.close()

    boss = Person(browser, server.url, width=width, height=844 if width == 390 else 900)
    boss.log_in("boss")
    fits(boss)
    header = boss.page.locator("#sessions thead th[data-column='mi_quality_probability']")
    box = header.bounding_box()
    assert box["x"] + box["width"] <= width, "the Good MI column starts off-screen"
    save_screenshot(boss.page, tmp_path, f"portal-overview-supervisor{suffix}.png", full_page=True)
    boss.check_clean()
    boss.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_long_comment_widens_neither_the_review_page_nor_the_report(server, browser, tmp_path, width):
    coach = Person(browser, server.url, width=width, height=900)
    coach.log_in("Coach A")
    coach.goto("/sessions/a-first/utterances/5/feedback")
    coach.page.select_option("#proposal", "adherence=none")
    coach.page.fill("#comment", LONG_WORD)
    coach.page.click("#feedback-form button[type=submit]")
    coach.page.wait_for_load_state("load")
    fits(coach)  # the report with its feedback panel
    if width == 390:
        save_screenshot(coach.page, tmp_path, "portal-report-flagged-phone.png")
        coach.page.evaluate("window.scrollTo(0, 0)")
        save_screenshot(coach.page, tmp_path, "portal-report-sent-phone.png")
    coach.close()
    boss = Person(browser, server.url, width=width, height=900)
    boss.log_in("boss")
    boss.goto("/corrections")
    fits(boss)
    on_screen(boss, "button.reject")
    boss.close()
