"""A coach's own page at ``/``: their sessions, their trend over time, what to try next, and what they flagged.

A supervisor's ``/`` is the overview of every session (coach filter, coaches table, trends per coach);
a coach has one coach, so none of that applies. Nothing here is computed anew: the rows and the trend
charts are the overview's (:func:`mifidelity.report.overview.session_rows`,
:func:`~mifidelity.report.overview.trend_plot`, over session dates), and "what to try next" is the
"Try next time" list each session's report already holds (numbers and advice, never transcript text),
read back from its report.html, newest session first, with how often each suggestion came up lately.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from mifidelity.portal.accounts import Account
from mifidelity.portal.library import SessionFolder, SessionLibrary, UnsafeFile
from mifidelity.portal.overview import Overviews
from mifidelity.portal.pages import PageCache

RECENT_SESSIONS = 5  # sessions whose suggestions are counted for "came up in k of your last n sessions"
COACH_COLOUR = "#3b6fd8"
_SUGGESTIONS = re.compile(r'<ol class="suggestions">(.*?)</ol>', re.DOTALL)
_SUGGESTION = re.compile(r"<li><strong>(.*?)</strong>(.*?)</li>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def _text(markup: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", markup)).split())


def report_suggestions(report_html: str) -> list[dict[str, str]]:
    """The "Try next time" suggestions (title, text) of a report.html as plain text; [] when it has none."""
    found = _SUGGESTIONS.search(report_html)
    if found is None:
        return []
    return [{"title": _text(title), "text": _text(text)} for title, text in _SUGGESTION.findall(found.group(1))]


@dataclass(frozen=True)
class CoachPage:
    """What a coach's page shows (the template is templates/coach.html.j2)."""

    rows: list[dict]  # the overview's rows of this coach's sessions, newest first
    plots: list[dict]  # the overview's trend charts, one line: this coach
    latest: dict | None  # the newest session's row, with its report's suggestions under "suggestions"
    recurring: list[dict]  # suggestion titles of the recent sessions: title, sessions (count)
    recent: int  # how many sessions "recurring" counts over
    first: datetime | None
    last: datetime | None


class CoachPages:
    """Builds :class:`CoachPage` for a coach, cached until one of their sessions changes."""

    def __init__(self, library: SessionLibrary, overviews: Overviews):
        self.library, self.overviews = library, overviews
        self._pages = PageCache(size=64)

    def page(self, account: Account, sessions: list[SessionFolder], snapshot: tuple) -> CoachPage:
        key = (account.name, tuple((s.session_id, s.mtime_ns) for s in sessions), snapshot)
        return self._pages.get(key, lambda: self._make(account, sessions, snapshot))

    def _suggestions(self, session: SessionFolder | None) -> list[dict[str, str]]:
        try:
            return report_suggestions(self.library.read(session, "report.html").decode("utf-8")) if session else []
        except (UnsafeFile, UnicodeDecodeError):
            return []

    def _make(self, account: Account, sessions: list[SessionFolder], snapshot: tuple) -> CoachPage:
        from mifidelity.report.overview import TREND_METRICS, by_date, session_rows, trend_plot

        frame = self.overviews.frame_for(sessions, snapshot)
        if not len(frame):
            return CoachPage([], [], None, [], 0, None, None)
        in_time = by_date(frame)
        colours = {in_time["coach"].iloc[0] or account.name: COACH_COLOUR}
        rows = session_rows(in_time.iloc[::-1].reset_index(drop=True), colours)
        by_id = {s.session_id: s for s in sessions}
        recent = rows[:RECENT_SESSIONS]
        advice = [self._suggestions(by_id.get(row["session_id"])) for row in recent]
        counts = Counter(title for found in advice for title in dict.fromkeys(s["title"] for s in found))
        latest = dict(rows[0], suggestions=advice[0])
        return CoachPage(rows=rows, plots=[trend_plot(in_time, metric, colours) for metric in TREND_METRICS],
                         latest=latest, recurring=[{"title": t, "sessions": n} for t, n in counts.most_common()],
                         recent=len(recent), first=in_time["date"].iloc[0], last=in_time["date"].iloc[-1])
