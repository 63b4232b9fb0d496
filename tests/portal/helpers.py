"""Helpers of the portal tests: an output folder with two coaches' sessions, a hostile one and planted symlinks, and a portal over it.

Accounts: "Coach A" and "Coach B" (coaches), "boss" (supervisor). Sessions:

- ``a-first`` (Coach A; its recording is reachable), ``a-second`` (Coach A; no recording)
- ``b-first`` (Coach B)
- ``x-hostile`` (coach named ``<script>alert(1)</script>``, script in its transcript)
- ``nocoach`` (no coach given: only the supervisor sees it)
- ``evil``: a symlink to a folder outside OUT whose session.json says coach "Coach A"
- ``linked``: a real folder whose session.json is a symlink to one outside OUT (coach "Coach B")
"""

import re
import wave
from pathlib import Path

from starlette.testclient import TestClient

from mifidelity.outputs import write_session
from mifidelity.portal.accounts import SCRYPT_N as PRODUCTION_SCRYPT_N  # noqa: F401 - read before the tests lower it
from mifidelity.portal.accounts import Accounts
from mifidelity.portal.tables import PortalStore, Role
from mifidelity.report.overview import write_overview

from support.reports import HOSTILE, coded_session, fidelity_session

PASSWORDS = {"Coach A": "coach-a-password", "Coach B": "coach-b-password", "boss": "supervisor-password"}
ROLES = {"Coach A": Role.COACH, "Coach B": Role.COACH, "boss": Role.SUPERVISOR}
SESSIONS = ("a-first", "a-second", "b-first", "x-hostile", "nocoach")
PLANTED = ("evil", "linked")  # symlinks out of OUT: nobody sees them
SEES = {
    None: set(),
    "Coach A": {"a-first", "a-second"},
    "Coach B": {"b-first"},
    "boss": set(SESSIONS),
}
WITH_RECORDING = {"a-first"}
SECRET_TEXT = "the name of my sister is Philippa"  # transcript text that must never reach a log line


def silent_wav(path: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\x00\x00" * int(8000 * seconds))
    return path


def build_out(root: Path) -> Path:
    """The output folder described in the module docstring."""
    out = root / "out"
    recording = silent_wav(root / "a-first.wav")
    a_first = fidelity_session("a-first", 0.31, coach="Coach A")
    a_first.source = str(recording)
    a_first.utterances.loc[1, "text"] = f"I want to cut down, {SECRET_TEXT}."
    write_session(a_first, out)
    rows = [("coach", "What brings you here?", "open"), ("client", "My doctor sent me.", "neutral"),
            ("coach", "You are here because your doctor is worried.", "complex")]
    write_session(coded_session(rows, session_id="a-second", coach="Coach A"), out)
    write_session(fidelity_session("b-first", 0.72, coach="Coach B"), out)
    write_session(coded_session([("coach", f"Tell me {HOSTILE} more?", "open"), ("client", HOSTILE, "change")],
                                session_id="x-hostile", coach=HOSTILE), out)
    write_session(coded_session(rows, session_id="nocoach", coach=None), out)
    write_overview(out)
    outside = root / "outside"
    write_session(coded_session(rows, session_id="evil", coach="Coach A"), outside)
    (out / "evil").symlink_to(outside / "evil", target_is_directory=True)
    write_session(coded_session(rows, session_id="linked", coach="Coach B"), outside)
    (out / "linked").mkdir()
    (out / "linked" / "session.json").symlink_to(outside / "linked" / "session.json")
    (out / "linked" / "report.html").symlink_to(outside / "linked" / "report.html")
    return out


def add_accounts(store: PortalStore) -> None:
    accounts = Accounts(store)
    for name, password in PASSWORDS.items():
        accounts.add(name, ROLES[name], password)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


class Browser:
    """A TestClient with login helpers (one cookie jar: one browser)."""

    def __init__(self, app, base_url="http://127.0.0.1", address: str = "testclient"):
        self.client = TestClient(app, base_url=base_url, follow_redirects=False, client=(address, 50000))
        self.csrf: str | None = None

    def login(self, name: str, password: str | None = None):
        page = self.client.get("/login")
        response = self.client.post("/login", data={"username": name, "password": password or PASSWORDS[name],
                                                    "csrf_token": csrf_of(page.text)})
        if response.status_code == 303:
            self.csrf = csrf_of(self.client.get("/").text)
        return response

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path, data=None, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf and self.csrf:
            data.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=data, **kwargs)
