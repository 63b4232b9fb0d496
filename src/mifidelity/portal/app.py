"""The portal's ASGI application: what a request needs (:class:`Portal`), and the checks every request passes through.

:func:`create_app` wires the modules together and keeps the :class:`Portal` on ``app.state.portal``;
the handlers (:mod:`mifidelity.portal.routes`) read the request, ask the portal, and render. Blocking
work (the database, files, scrypt) runs in Starlette's thread pool. Rules that a route must not
forget live in one place here:

- :meth:`Portal.user` -- no valid web session: the login page (303), whatever was asked;
- :meth:`Portal.supervisor` -- a supervisor's page asked by anyone else answers 404;
- :meth:`Portal.form` -- every POST: urlencoded, at most 64 kB, same origin, right CSRF token;
- :meth:`Portal.session` -- a session this user may not see answers 404, as one that does not exist.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp

from mifidelity.config import PipelineConfig
from mifidelity.portal.accounts import Accounts
from mifidelity.portal.audit import Action, AuditLog
from mifidelity.portal.coach_page import CoachPages
from mifidelity.portal.corrections import Corrections
from mifidelity.portal.feedback_pages import FeedbackPages
from mifidelity.portal.library import SessionFolder, SessionLibrary, UnsafeFile, open_recording, recording_stat
from mifidelity.portal.overview import Overviews
from mifidelity.portal.pages import PageCache, Refused, html_response, prepare_report, render
from mifidelity.portal.routes import ROUTES, http_error
from mifidelity.portal.security import (
    CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE, LoginThrottle, PortalSettings, SecurityHeaders, WebSession,
    WebSessions, new_token, tokens_match,
)
from mifidelity.portal.tables import PortalStore

logger = logging.getLogger(__name__)

MAX_FORM_BYTES = 64 * 1024


class RecordingResponse(FileResponse):
    """A FileResponse that reads only the file that was checked: each read opens the path again with
    ``O_NOFOLLOW`` and refuses it unless it is still the same regular file (device and inode). The ASGI
    ``pathsend`` extension is hidden from it, since the server would then open the path itself."""

    def __init__(self, path: Path, info: os.stat_result):
        super().__init__(path, stat_result=info, filename=None, content_disposition_type="inline")

    async def __call__(self, scope, receive, send):
        extensions = {k: v for k, v in (scope.get("extensions") or {}).items() if k != "http.response.pathsend"}
        await super().__call__(dict(scope, extensions=extensions), receive, send)

    @asynccontextmanager
    async def _open_file(self):
        fd = await anyio.to_thread.run_sync(open_recording, Path(self.path), self.stat_result)
        file = anyio.wrap_file(os.fdopen(fd, "rb"))
        try:
            yield file
        finally:
            with anyio.CancelScope(shield=True):
                await file.aclose()


class Portal(FeedbackPages):
    """Everything a request needs: the output folder's index and the portal's tables (feedback pages:
    :class:`~mifidelity.portal.feedback_pages.FeedbackPages`)."""

    def __init__(self, out_dir: str | Path, store: PortalStore, settings: PortalSettings):
        self.library = SessionLibrary(out_dir, ledger=store.ledger)
        self.store, self.settings = store, settings
        self.accounts = Accounts(store)
        self.web_sessions = WebSessions(store, settings)
        self.throttle = LoginThrottle(store, settings)
        self.audit = AuditLog(store)
        self.corrections = Corrections(store)
        self.overviews = Overviews(self.library.out_dir)
        self.coach_pages = CoachPages(self.library, self.overviews)
        self.reports = PageCache(size=64)

    # -- checks every route relies on ----------------------------------------------------------------

    def user(self, request: Request) -> WebSession:
        found = self.web_sessions.lookup(request.cookies.get(SESSION_COOKIE))
        if found is None:
            raise Refused(RedirectResponse("/login", status_code=303))
        return found

    def supervisor(self, request: Request) -> WebSession:
        """The signed-in supervisor; anyone else signed in is answered 404, as for a page that does not exist."""
        user = self.user(request)
        if not user.account.is_supervisor:
            raise Refused(self.not_found(user))
        return user

    async def form(self, request: Request, expected_token: str | None) -> dict[str, str]:
        """The POSTed fields, once the request is shown to come from our own form (else 403)."""
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            raise Refused(self.message("Refused", "This form was sent from another site.", 403))
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise Refused(self.message("Refused", "This request is not a form from this portal.", 403))
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refused(self.message("Too large", "The form is too large.", 413))
        try:
            fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            raise Refused(self.message("Refused", "The form could not be read.", 400)) from None
        if not tokens_match(expected_token, fields.get(CSRF_FIELD)):
            raise Refused(self.message("Refused", "The form had expired or did not come from this portal. "
                                       "Go back, reload the page and try again.", 403))
        return fields

    def session(self, user: WebSession, session_id: str) -> SessionFolder:
        found = self.library.find(user.account, session_id)
        if found is None:
            raise Refused(self.not_found(user))
        return found

    # -- shared responses --------------------------------------------------------------------------

    def message(self, title: str, text: str, status: int, user: WebSession | None = None) -> HTMLResponse:
        return html_response(render("message.html.j2", title=title, text=text, **self._bar(user)), status)

    def not_found(self, user: WebSession | None) -> HTMLResponse:
        return self.message("Not found", "There is nothing here, or nothing you may see.", 404, user)

    def _bar(self, user: WebSession | None) -> dict:
        if user is None:
            return {"account": None}
        open_count = self.corrections.count_open() if user.account.is_supervisor else 0
        return {"account": user.account, "csrf_token": user.csrf_token, "open_count": open_count}

    def secure(self, request: Request) -> bool:
        return self.settings.secure_cookies if self.settings.secure_cookies is not None else request.url.scheme == "https"

    # -- login and logout --------------------------------------------------------------------------

    def login_page(self, request: Request, message: str = "", username: str = "", status: int = 200) -> Response:
        token = new_token()
        response = html_response(render("login.html.j2", account=None, csrf_token=token, message=message, username=username), status)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
                            secure=self.secure(request))
        return response

    def login(self, request: Request, fields: dict[str, str]) -> Response:
        username, password = fields.get("username", "").strip(), fields.get("password", "")
        address = request.client.host if request.client else "-"
        attempt = self.throttle.attempt(username, address)  # counted as a failure until the password is right
        if attempt is None:
            self.audit.record(Action.LOGIN_THROTTLED, username, address)
            wait = f"{self.settings.throttle_minutes:g} minutes"
            return self.login_page(request, f"Too many failed attempts. Wait {wait}, then try again.", username, 429)
        try:
            account = self.accounts.authenticate(username, password)
        except BaseException:
            self.throttle.failed(attempt)
            raise
        if account is None:
            self.throttle.failed(attempt)
            self.audit.record(Action.LOGIN_FAILED, username, address)
            return self.login_page(request, "Wrong name or password.", username, 401)
        self.throttle.succeeded(account.name, attempt)
        old = self.web_sessions.lookup(request.cookies.get(SESSION_COOKIE))
        if old is not None:
            self.web_sessions.end(old.token_hash)
        token, _ = self.web_sessions.create(account.name)
        self.audit.record(Action.LOGIN, account.name, address)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="strict", secure=self.secure(request))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    def logout(self, request: Request, user: WebSession) -> Response:
        self.web_sessions.end(user.token_hash)
        self.audit.record(Action.LOGOUT, user.account.name, request.client.host if request.client else None)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure(request))
        return response

    # -- reading -----------------------------------------------------------------------------------

    def overview(self, user: WebSession) -> Response:
        """A supervisor's overview of every session; a coach's own page (:mod:`mifidelity.portal.coach_page`)."""
        sessions = self.library.visible_to(user.account)
        if not user.account.is_supervisor:
            from mifidelity.metrics import THRESHOLDS

            page = self.coach_pages.page(user.account, sessions, self.library.snapshot())
            return html_response(render("coach.html.j2", page=page, thresholds=THRESHOLDS,
                                        flagged=self.corrections.by_author(user.account.name), **self._bar(user)))
        page = self.overviews.page(user.account, sessions, self.library.snapshot())
        return html_response(page.with_insert(render("bar.html.j2", **self._bar(user))), csp=page.csp)

    def sessions_csv(self, user: WebSession) -> Response:
        from mifidelity.report.overview import sessions_csv

        frame = self.overviews.frame_for(self.library.visible_to(user.account), self.library.snapshot())
        return Response(sessions_csv(frame), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="sessions.csv"'})

    def report(self, request: Request, user: WebSession, session: SessionFolder) -> Response:
        recording = self.library.recording(session) is not None
        try:
            key = (session.folder_name, session.mtime_ns, recording)
            page = self.reports.get(key, lambda: prepare_report(
                self.library.read(session, "report.html").decode("utf-8"), session.session_id, recording, session.source))
        except (UnsafeFile, UnicodeDecodeError):
            return self.message("No report", "This session has no readable report.", 404, user)
        self.audit.record(Action.VIEW_REPORT, user.account.name, request.client.host if request.client else None,
                          session.session_id)
        bar = self._bar(user)
        items = self.corrections.for_session(session.session_id)
        panel = self.feedback_panel(user, session, items, request.query_params.get("sent"), bar) if items else ""
        return html_response(page.with_insert(render("bar.html.j2", **bar) + panel, self.row_marks(items)), csp=page.csp)

    def recording(self, request: Request, user: WebSession, session: SessionFolder) -> Response:
        path = self.library.recording(session)
        info = recording_stat(path) if path is not None else None  # checked again now: a file may be swapped
        if info is None:
            return self.not_found(user)
        if request.headers.get("range", "bytes=0-").startswith("bytes=0-"):  # one entry per play, not per chunk
            self.audit.record(Action.PLAY_RECORDING, user.account.name, request.client.host if request.client else None,
                              session.session_id)
        return RecordingResponse(path, info)


class PortalApp(Starlette):
    """The portal's Starlette application, with :class:`~mifidelity.portal.security.SecurityHeaders` outside
    everything else, so that error pages (500 included) carry the headers too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(out_dir: str | Path, config: PipelineConfig | None = None, settings: PortalSettings | None = None,
               store: PortalStore | None = None):
    """The portal over the output folder ``out_dir`` as an ASGI application (run it with uvicorn).

    The :class:`Portal` it serves is ``app.state.portal``.

    Parameters
    ----------
    out_dir:
        The output folder; it is only read.
    config:
        The pipeline config; its ``inbox.database_url`` names the database (SQLite in OUT otherwise).
    settings:
        Session lifetimes, throttle limits and cookie policy (:class:`PortalSettings`).
    store:
        An open store (tests); by default the one of ``out_dir`` and ``config``.
    """
    app = PortalApp(routes=ROUTES, exception_handlers={404: http_error, 405: http_error})
    app.state.portal = Portal(out_dir, store or PortalStore.for_out(out_dir, config), settings or PortalSettings())
    return app
