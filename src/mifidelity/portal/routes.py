"""The portal's URLs: one named handler per path and method, and the table of them (:data:`ROUTES`).

A handler finds the :class:`~mifidelity.portal.app.Portal` on ``request.app.state.portal`` (set by
:func:`~mifidelity.portal.app.create_app`), runs the checks and the page in Starlette's thread pool
(one trip per GET: the database, files and scrypt block) and returns the response. A check that
refuses raises :class:`~mifidelity.portal.pages.Refused`, whose response :func:`refusing` returns.
"""

from __future__ import annotations

import functools

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mifidelity.portal.library import SessionFolder
from mifidelity.portal.pages import Refused
from mifidelity.portal.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, WebSession


def refusing(handler):
    """The handler, answering with the response of a check that refused (login page, 403, 404...)."""
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            return refused.response
    return endpoint


def thread(fn, *args):
    return run_in_threadpool(fn, *args)


def visible(request: Request) -> tuple[WebSession, SessionFolder]:
    """The signed-in user and the session of the path, if this user may see it (else 404)."""
    portal = request.app.state.portal
    user = portal.user(request)
    return user, portal.session(user, request.path_params["session_id"])


@refusing
async def login_get(request: Request) -> Response:
    portal = request.app.state.portal
    if await thread(portal.web_sessions.lookup, request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse("/", status_code=303)
    return portal.login_page(request)


@refusing
async def login_post(request: Request) -> Response:
    portal = request.app.state.portal
    fields = await portal.form(request, request.cookies.get(LOGIN_CSRF_COOKIE))
    return await thread(portal.login, request, fields)


@refusing
async def logout(request: Request) -> Response:
    portal = request.app.state.portal
    user = await thread(portal.user, request)
    await portal.form(request, user.csrf_token)
    return await thread(portal.logout, request, user)


@refusing
async def overview(request: Request) -> Response:
    portal = request.app.state.portal
    return await thread(lambda: portal.overview(portal.user(request)))


@refusing
async def sessions_csv(request: Request) -> Response:
    portal = request.app.state.portal
    return await thread(lambda: portal.sessions_csv(portal.user(request)))


@refusing
async def report(request: Request) -> Response:
    portal = request.app.state.portal
    return await thread(lambda: portal.report(request, *visible(request)))


@refusing
async def recording(request: Request) -> Response:
    portal = request.app.state.portal
    return await thread(lambda: portal.recording(request, *visible(request)))


@refusing
async def feedback_get(request: Request) -> Response:
    portal = request.app.state.portal
    return await thread(lambda: portal.feedback_page(*visible(request), request.path_params["index"]))


@refusing
async def feedback_post(request: Request) -> Response:
    portal = request.app.state.portal
    user, session = await thread(visible, request)
    fields = await portal.form(request, user.csrf_token)
    return await thread(portal.propose, request, user, session, request.path_params["index"], fields)


@refusing
async def review(request: Request) -> Response:
    portal = request.app.state.portal
    return await thread(lambda: portal.review(portal.supervisor(request)))


@refusing
async def decide(request: Request) -> Response:
    portal = request.app.state.portal
    user = await thread(portal.supervisor, request)
    fields = await portal.form(request, user.csrf_token)
    return await thread(portal.decide, request, user, request.path_params["correction_id"], fields)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """Unknown paths and wrong methods: anonymous visitors go to the login page, as for everything else."""
    portal = request.app.state.portal
    user = await thread(portal.web_sessions.lookup, request.cookies.get(SESSION_COOKIE))
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if exc.status_code == 405:
        return portal.message("Not allowed", "This page cannot be used that way.", 405, user)
    return portal.not_found(user)


ROUTES = [
    Route("/login", login_get, methods=["GET"]),
    Route("/login", login_post, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/", overview, methods=["GET"]),
    Route("/sessions.csv", sessions_csv, methods=["GET"]),
    Route("/sessions/{session_id}/", report, methods=["GET"]),
    Route("/sessions/{session_id}/recording", recording, methods=["GET"]),
    Route("/sessions/{session_id}/utterances/{index:int}/feedback", feedback_get, methods=["GET"]),
    Route("/sessions/{session_id}/utterances/{index:int}/feedback", feedback_post, methods=["POST"]),
    Route("/corrections", review, methods=["GET"]),
    Route("/corrections/{correction_id:int}/decision", decide, methods=["POST"]),
]
"""Every URL of the portal; anything else is :func:`http_error`'s."""
