"""The report and the overview as a person sees them: headless Chromium (Debian's) driven by Playwright.

Needs /usr/bin/chromium (apt: chromium) and the Python package playwright; no browser is downloaded
(never `playwright install`). Screenshots go to the test's temporary folder, and also to
$MIFIDELITY_SCREENSHOTS when set (e.g. docs/screenshots to refresh the documentation's).
"""

import sys
from pathlib import Path

import pytest

from mifidelity.outputs import write_session
from mifidelity.report.overview import write_overview

from support.browser import BROWSER_TEST, WatchedContext, save_screenshot
from support import ROOT
from support.reports import HOSTILE, fidelity_session, hostile_transcript

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """`mifidelity code` on the hostile transcript and on a sample transcript that has its recording beside it,
    plus a hand-built session with persuade, confront, affirm, seek and autonomy codes and fixed fidelity estimates."""
    import subprocess

    folder = tmp_path_factory.mktemp("browser")
    config = folder / "rules.yaml"
    config.write_text("coding: {engine: rules}\n")
    out = folder / "out"
    command = [sys.executable, "-m", "mifidelity.cli", "code", str(hostile_transcript(folder)),
               str(ROOT / "sample_audio" / "session1_alcohol.truth.csv"), "--out", str(out), "--config", str(config),
               "--coach", "Alex"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    write_session(fidelity_session("estimated", 0.27, coach="Alex"), out)
    write_overview(out)  # the flow rebuilds it too; this keeps the browser test about rendering
    return out


class Watched(WatchedContext):
    """A report opened from disk, with every request, dialog, JavaScript error and console error recorded."""

    def open(self, path: Path):
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")
        return self.page

    def check_clean(self):
        assert self.errors == [], self.errors
        assert self.dialogs == [], "a dialog opened: transcript text ran as script"
        leaving = [url for url in self.requests if not url.startswith(("file:", "data:"))]
        assert leaving == [], leaving




def test_report_in_the_browser(out, browser, tmp_path):
    watched = Watched(browser)
    page = watched.open(out / "session1_alcohol.truth" / "report.html")
    for selector in ("#scorecard", "#timeline-plot", "#transcript-table", "#highlights", "#next-time", "audio#player"):
        assert page.locator(selector).is_visible(), selector
    assert page.locator("#scorecard .card").count() == 5
    assert page.locator("#timeline-plot rect.bar").count() == page.locator("#transcript-table tbody tr").count()
    for kind in ("q-open", "r-simple", "ct-change"):
        assert page.locator(f"#timeline-plot .mark.{kind}").count() > 0, kind
    total = page.locator("#transcript-table tbody tr").count()
    save_screenshot(page, tmp_path, "report.png", full_page=True)

    page.click('#filters [data-filter="question"]')
    visible = page.locator("#transcript-table tbody tr:visible")
    shown = visible.count()
    assert 0 < shown < total
    assert all("question" in visible.nth(i).get_attribute("data-codes").split() for i in range(shown))
    assert page.locator("#filter-status").inner_text() == f"Showing {shown} of {total} utterances."
    assert page.get_attribute('#filters [data-filter="question"]', "aria-pressed") == "true"
    save_screenshot(page, tmp_path, "report-filtered.png")
    page.click('#filters [data-filter="all"]')
    assert page.locator("#transcript-table tbody tr:visible").count() == total

    row = page.locator("#transcript-table tbody tr").nth(4)
    row.click()
    assert "current" in row.get_attribute("class")
    page.locator("#timeline-plot a").nth(2).click()
    # The link changes the location's hash; the report's script marks the row on the hashchange
    # event, which arrives after click() returns: wait for it (up to 5 s) instead of racing it.
    page.wait_for_function("document.getElementById('u2').classList.contains('current')", timeout=5000)

    page.emulate_media(media="print")
    assert not page.locator("#filters").is_visible()
    save_screenshot(page, tmp_path, "report-print.png", full_page=True)
    watched.check_clean()
    watched.close()


def test_report_summary_in_the_browser(out, browser, tmp_path):
    watched = Watched(browser)
    page = watched.open(out / "estimated" / "report.html")
    summary = page.locator("#miti-summary")
    assert summary.is_visible() and page.locator("#estimate-note").is_visible()
    assert summary.bounding_box()["y"] < page.locator("#scorecard").bounding_box()["y"]
    assert page.locator("#miti-summary .tile").count() == 6
    assert page.locator("#mi-quality").inner_text().startswith("27%")
    save_screenshot(page, tmp_path, "report-summary.png")
    page.click("#miti-summary details.how summary")
    assert page.locator("#miti-summary details.how dl").is_visible()
    assert page.locator("#next-time .pair.persuade").count() == 1 and page.locator("#next-time .pair.confront").count() == 1
    assert page.locator("#strengths [data-kind=affirm] .pair").count() == 1
    page.click('#filters [data-filter="non-adherent"]')
    visible = page.locator("#transcript-table tbody tr:visible")
    assert visible.count() == 2
    assert all("non-adherent" in visible.nth(i).get_attribute("data-codes").split() for i in range(2))
    assert page.locator("#timeline-plot .mark.non-adherent").count() == 2
    save_screenshot(page, tmp_path, "report-try-next-time.png", full_page=True, clip=_box(page, "#next-time", "#strengths"))
    watched.check_clean()
    watched.close()


def _box(page, first: str, last: str) -> dict:
    """The page area from the top of one element to the bottom of another (for a full-page screenshot)."""
    page.evaluate("window.scrollTo(0, 0)")  # bounding boxes are relative to the viewport
    top, bottom = page.locator(first).bounding_box(), page.locator(last).bounding_box()
    return {"x": 0, "y": top["y"] - 8, "width": page.viewport_size["width"], "height": bottom["y"] + bottom["height"] - top["y"] + 16}


def test_report_on_a_phone(out, browser, tmp_path):
    watched = Watched(browser, width=390, height=844)
    page = watched.open(out / "session1_alcohol.truth" / "report.html")
    assert page.locator("#scorecard").is_visible() and page.locator("#transcript-table").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
    save_screenshot(page, tmp_path, "report-phone.png")
    page = watched.open(out / "estimated" / "report.html")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the summary scrolls sideways on a phone ({width}px)"
    save_screenshot(page, tmp_path, "report-summary-phone.png")
    watched.check_clean()
    watched.close()


def test_hostile_transcript_runs_no_script(out, browser, tmp_path):
    watched = Watched(browser)
    page = watched.open(out / "hostile" / "report.html")
    page.wait_for_timeout(200)
    assert HOSTILE in page.locator("#transcript-table").inner_text()  # shown as text, not run
    assert page.locator("#transcript-table script").count() == 0
    page.click('#filters [data-filter="ct-change"]')
    assert page.locator("#transcript-table tbody tr:visible").count() >= 1
    save_screenshot(page, tmp_path, "report-hostile.png", full_page=True)
    watched.check_clean()
    watched.close()


def test_overview_in_the_browser(out, browser, tmp_path):
    watched = Watched(browser)
    page = watched.open(out / "index.html")
    assert page.locator("#sessions").is_visible() and page.locator("svg.trend").first.is_visible()
    rows = page.locator("#sessions tbody tr")
    assert rows.count() == 3
    quality = [rows.nth(i).locator("td").nth(1).get_attribute("data-sort") for i in range(3)]
    known = [float(q) for q in quality if q]
    assert known == sorted(known) and quality == [q for q in quality if q] + [q for q in quality if not q]  # lowest first
    save_screenshot(page, tmp_path, "overview.png", full_page=True)
    page.select_option("#quality-filter", "likely poor")
    assert page.locator("#sessions tbody tr:visible").count() >= 1  # the hand-built session (27%)
    assert all(row.get_attribute("data-quality") == "likely poor" for row in page.locator("#sessions tbody tr:visible").all())
    page.select_option("#quality-filter", "")
    page.click("#sessions thead th:nth-child(1) button")
    first = rows.nth(0).locator("td").first.inner_text()
    page.click("#sessions thead th:nth-child(1) button")
    assert rows.nth(0).locator("td").first.inner_text() != first  # sorting flips
    page.fill("#search", "hostile")
    assert page.locator("#sessions tbody tr:visible").count() == 1
    page.fill("#search", "")
    page.click("#sessions tbody tr:visible a >> nth=0")
    page.wait_for_load_state("load")
    assert page.url.endswith("/report.html")
    watched.check_clean()
    watched.close()


@pytest.mark.parametrize("width", (390, 1400))
def test_a_2000_character_word_does_not_widen_the_report(tmp_path, browser, width):
    from support.reports import coded_session

    session = coded_session([("coach", "What brings you here?", "open"), ("client", "y" * 2000, "change"),
                             ("coach", "You want " + "z" * 2000 + ".", "complex")], session_id="w" * 120)
    write_session(session, tmp_path)
    watched = Watched(browser, width=width, height=844)
    page = watched.open(tmp_path / ("w" * 120) / "report.html")
    width_shown = page.evaluate("document.scrollingElement.scrollWidth")
    assert width_shown <= page.evaluate("window.innerWidth"), f"the report is {width_shown}px wide"
    watched.check_clean()
    watched.close()


def test_overview_on_a_phone(out, browser, tmp_path):
    watched = Watched(browser, width=390, height=844)
    page = watched.open(out / "index.html")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"the overview scrolls sideways on a phone ({width}px)"
    good_mi = page.locator("#sessions thead th[data-column='mi_quality_probability']").bounding_box()
    assert good_mi["x"] + good_mi["width"] <= 390, "the Good MI column starts off-screen"
    assert page.locator("#sessions").evaluate("t => t.closest('.table-wrap').scrollWidth > 0")
    save_screenshot(page, tmp_path, "overview-phone.png", full_page=True)
    watched.check_clean()
    watched.close()
