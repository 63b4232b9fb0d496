"""The overview a supervisor sees at ``/``: the static overview's page, limited to the sessions they may see
(a coach sees their own page instead, :mod:`mifidelity.portal.coach_page`).

The frame comes from :func:`mifidelity.report.overview.load_sessions` (so the portal shows the same
columns, order and trend charts as ``OUT/index.html``); rows are kept only for folders that the
portal's own index accepted (real directories in OUT, readable session.json), and each row's link
points at the portal's report route.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

from mifidelity.portal.accounts import Account
from mifidelity.portal.library import SessionFolder
from mifidelity.portal.pages import PageCache, PreparedPage, prepare_overview, session_url


def _folder_of(report_link: str) -> str:
    # load_sessions writes "./<quoted folder>/report.html"
    return unquote(report_link[2:].rsplit("/", 1)[0]) if report_link.startswith("./") else ""


class Overviews:
    """Per-user overview pages, rebuilt when a visible session changes."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self._frame: tuple[tuple, pd.DataFrame] | None = None
        self._lock = threading.Lock()
        self._pages = PageCache(size=32)

    def _all_sessions(self, snapshot: tuple) -> pd.DataFrame:
        from mifidelity.report.overview import load_sessions

        with self._lock:
            if self._frame is None or self._frame[0] != snapshot:
                self._frame = (snapshot, load_sessions(self.out_dir))
            return self._frame[1]

    def frame_for(self, sessions: list[SessionFolder], snapshot: tuple) -> pd.DataFrame:
        """The overview rows of these sessions, linking to the portal's report pages."""
        frame = self._all_sessions(snapshot)
        by_folder = {s.folder_name: s for s in sessions}
        if not len(frame):
            return frame
        folders = frame["report"].map(_folder_of)
        mine = frame[folders.isin(by_folder)].copy()
        mine["session_id"] = [by_folder[f].session_id for f in folders[folders.isin(by_folder)]]
        mine["report"] = [session_url(s) for s in mine["session_id"]]
        return mine.reset_index(drop=True)

    def page(self, account: Account, sessions: list[SessionFolder], snapshot: tuple) -> PreparedPage:
        key = (account.name, account.role, tuple((s.session_id, s.mtime_ns) for s in sessions), snapshot)
        return self._pages.get(key, lambda: self._make(account, sessions, snapshot))

    def _make(self, account: Account, sessions: list[SessionFolder], snapshot: tuple) -> PreparedPage:
        from mifidelity.report.overview import render_overview

        return prepare_overview(render_overview(self.frame_for(sessions, snapshot)))
