"""The portal's pages: its own (login, feedback, review) and the served report and overview.

The served report *is* the session folder's report.html, so the portal and the single file never
drift apart. Before serving it:

- its ``<meta>`` Content-Security-Policy goes (the response header carries the portal's, which must
  allow same-origin forms and audio); the script hashes it listed are kept, so exactly the report's
  own script runs and nothing else;
- the audio player points at ``/sessions/<id>/recording`` (an access-checked route) when the
  recording is still reachable, and says it is not otherwise;
- every transcript row gets a "flag a code" link to the feedback form and a slot at the end of its
  text where a flagged code's mark goes (per request); the page gets the portal's bar (who is signed
  in, log out) and the session's feedback panel;
- the footer's "this file is self-contained" sentence becomes what is true of a served page.

All of it is plain string surgery on markup that our own templates wrote (autoescaped, so transcript
text cannot contain the patterns matched here), cached per version of the file.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import escape

from starlette.responses import HTMLResponse, Response

from mifidelity.portal.security import content_security_policy

_META_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">\s*', re.IGNORECASE)
_SCRIPT_HASH = re.compile(r"'sha256-[A-Za-z0-9+/]+=*'")
_PLAYER_BOX = re.compile(r'<div id="player-box">.*?</div>', re.DOTALL)
_ROW_WHO = re.compile(r'(<tr id="u(\d+)"[^>]*>\s*<td class="time">[^<]*</td>\s*<td class="who">[^<]*)(</td>)')
_ROW_END = re.compile(r'(<tr id="u(\d+)"[^>]*>.*?)(</td>\s*</tr>)', re.DOTALL)  # the end of a row's last cell
_BODY = re.compile(r"<body[^>]*>")
_ROW_SLOT = re.compile("\x00row(\\d+)\x00")  # where a transcript row's mark goes (NUL: never in a file we serve)
# The report's and overview's footer sentence about the single file (wrapped in a span since issue 27; older
# files have the bare sentence). Pages served by the portal are not that file.
_FILE_NOTE = re.compile(r'<span class="file-note">[^<]*</span>|This file is self-contained and loads nothing from the network\.')
PORTAL_NOTE = "Served by the MI fidelity portal to signed-in users only; the page loads nothing from elsewhere."


class Refused(Exception):
    """A request answered with a fixed response (redirect to login, 403, 404...)."""

    def __init__(self, response: Response):
        self.response = response


def html_response(html: str, status: int = 200, csp: str | None = None) -> HTMLResponse:
    """A page; ``csp`` replaces the portal's default Content-Security-Policy (a served report's script hash)."""
    response = HTMLResponse(html, status_code=status)
    if csp:
        response.headers["content-security-policy"] = csp
    return response


def quote_id(value: str) -> str:
    """A session id as one URL path segment."""
    return quote(str(value), safe="")


def session_url(session_id: str) -> str:
    return f"/sessions/{quote_id(session_id)}/"


@lru_cache(maxsize=1)
def environment() -> Environment:
    # The report's templates come second: the coach page includes the overview's trend chart (_trend.*).
    env = Environment(loader=ChoiceLoader([PackageLoader("mifidelity", "portal/templates"),
                                           PackageLoader("mifidelity", "report/templates")]),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["quote_id"] = quote_id
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


@dataclass(frozen=True)
class PreparedPage:
    """A served page with the places where the per-request parts go: after ``<body>`` (bar, feedback panel)
    and, in a report, in each transcript row (the mark of a flagged code)."""

    before: str
    after: tuple[str, ...]  # the rest of the page, cut at each row's slot
    csp: str  # the page's Content-Security-Policy header
    slots: tuple[int, ...] = ()  # the utterance index of each cut (len(after) - 1 of them)

    def with_insert(self, insert: str, row_marks: dict[int, str] | None = None) -> str:
        parts = [self.before, insert, self.after[0]]
        for index, rest in zip(self.slots, self.after[1:]):
            parts += [(row_marks or {}).get(index, ""), rest]
        return "".join(parts)


def _split_at_body(html: str) -> tuple[str, str]:
    match = _BODY.search(html)
    if match is None:
        return "<!doctype html><html><body>", html
    return html[:match.end()] + "\n", html[match.end():]


def _own_policy(html: str) -> tuple[str, str]:
    """The page without its meta CSP, and the policy for the header (the page's script hashes only)."""
    match = _META_CSP.search(html)
    hashes = tuple(_SCRIPT_HASH.findall(match.group(1))) if match else ()
    if match:
        html = html[:match.start()] + html[match.end():]
    return html, content_security_policy(hashes)


def prepare_report(html: str, session_id: str, recording: bool, source: str | None = None) -> PreparedPage:
    """report.html as the portal serves it (see the module docstring); ``source`` is session.json's."""
    from mifidelity.report.session_facts import player_note

    html, csp = _own_policy(html.replace("\x00", "\ufffd"))  # a NUL is ours alone: the row slots below
    html = _FILE_NOTE.sub(PORTAL_NOTE, html)
    base = session_url(session_id)
    if recording:
        box = ('<div id="player-box">\n  <audio id="player" controls preload="metadata" src="' + base + 'recording"></audio>\n'
               '  <p class="unreachable-note">The original recording could not be opened; timestamps are still shown.</p>\n'
               '  <p class="meta no-print">Click an utterance to play the recording from there.</p>\n</div>')
    else:
        box = f'<div id="player-box">\n  <p class="meta" id="no-recording">{escape(player_note(source))}</p>\n</div>'
    html = _PLAYER_BOX.sub(lambda _: box, html, count=1)
    html = _ROW_WHO.sub(lambda m: f'{m.group(1)}<br><a class="flag" href="{base}utterances/{m.group(2)}/feedback" '
                                  f'title="Mark a code of this utterance as wrong">flag a code</a>{m.group(3)}', html)
    html = _ROW_END.sub(lambda m: f"{m.group(1)}\x00row{m.group(2)}\x00{m.group(3)}", html)
    before, after = _split_at_body(html)
    pieces = _ROW_SLOT.split(after)
    return PreparedPage(before, tuple(pieces[0::2]), csp, tuple(int(i) for i in pieces[1::2]))


def prepare_overview(html: str) -> PreparedPage:
    """The overview page (already holding only this user's sessions) with the portal's policy."""
    html, csp = _own_policy(html)
    html = _FILE_NOTE.sub(PORTAL_NOTE, html)
    before, after = _split_at_body(html)
    return PreparedPage(before, (after,), csp)


class PageCache:
    """A small thread-safe LRU of prepared pages, keyed by what they were made from."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: two threads may both make it once, which is harmless
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
