"""Debian's Chromium through Playwright, for the report and portal browser tests (no browser download)."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                 "--autoplay-policy=no-user-gesture-required"]

# pytestmark of a browser test module: slow, and skipped where Chromium is missing.
BROWSER_TEST = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"),
]


class WatchedContext:
    """One browser context (own cookies) with every request, dialog, JavaScript and console error recorded."""

    def __init__(self, browser, width=1280, height=900):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.requests, self.dialogs, self.errors = [], [], []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)

    def close(self):
        self.context.close()


def save_screenshot(page_or_element, tmp_path: Path, name: str, **options) -> Path:
    """A screenshot in the test's folder, copied to $MIFIDELITY_SCREENSHOTS when set (docs/screenshots)."""
    target = tmp_path / name
    page_or_element.screenshot(path=str(target), **options)
    extra = os.environ.get("MIFIDELITY_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, Path(extra) / name)
    return target
