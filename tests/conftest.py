import pandas as pd
import pytest

from mifidelity.coding.base import blank_codes
from mifidelity.types import StageInfo


class QuestionMarkCoder:
    """A test double: '?' makes an open question, everything else a simple reflection / change talk."""

    info = StageInfo("test", "question-mark", "0")

    def code(self, roles, texts) -> pd.DataFrame:
        codes = blank_codes(roles)
        for i, (role, text) in enumerate(zip(roles, texts)):
            if role == "coach":
                asked = text.strip().endswith("?")
                codes.loc[i, ["main_behaviour", "question", "reflection", "giving_information"]] = [
                    "question" if asked else "reflection", "open" if asked else "none",
                    "none" if asked else "simple", False]
            else:
                codes.loc[i, "client_talk"] = "change"
        return codes


@pytest.fixture
def question_mark_coder():
    return QuestionMarkCoder()


@pytest.fixture(scope="module")
def one_prefect_server():
    """One temporary Prefect server (and database) for all flow runs of a test module, not one per run."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium for a test module (see tests/support/browser.py)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the Python package playwright")
    from support.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
