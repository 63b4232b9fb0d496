"""The portal under a real uvicorn on 127.0.0.1: raw traversal requests, the access log, and a small load."""

import asyncio
import logging
import socket
import sys

import pytest

from mifidelity.portal.server import BackgroundServer

from portal.helpers import PASSWORDS, SECRET_TEXT
from support import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))


def raw_get(port: int, target: str, cookie: str = "") -> bytes:
    """Send ``target`` exactly as written (no client-side normalisation of '..')."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        connection.sendall(request.encode("latin-1"))
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


RAW_TARGETS = ["/sessions/../../../../etc/passwd", "/sessions/a-first/../b-first/", "/sessions/a-first/../../.ledger.sqlite",
               "/../a-first/report.html", "/sessions/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd", "/sessions/./b-first/",
               "/sessions/b-first/./", "/sessions/a-first/..%2f..%2fb-first/", "/sessions/a-first/%2e%2e/b-first/"]


def test_raw_traversal_requests_through_a_real_server(portal_app, caplog):
    import httpx

    with BackgroundServer(portal_app, access_log=True, log_level="info") as server:
        with httpx.Client(base_url=server.url, follow_redirects=False) as client:
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            client.post("/login", data={"username": "Coach A", "password": PASSWORDS["Coach A"], "csrf_token": token})
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            assert SECRET_TEXT in client.get("/sessions/a-first/").text
            assert client.get("/sessions/a-first/recording", headers={"range": "bytes=0-99"}).status_code == 206
        caplog.set_level(logging.INFO)
        for target in RAW_TARGETS:
            anonymous = raw_get(server.port, target)
            assert anonymous.split(b"\r\n", 1)[0] in (b"HTTP/1.1 303 See Other", b"HTTP/1.1 404 Not Found"), target
            answer = raw_get(server.port, target, cookie)
            status = answer.split(b"\r\n", 1)[0]
            assert status == b"HTTP/1.1 404 Not Found", (target, status)
            assert b"root:" not in answer and b"SQLite" not in answer and b"Coach B" not in answer
    assert SECRET_TEXT not in caplog.text


def _forwarded_login_page(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET /login HTTP/1.1\r\nHost: reports.example\r\nX-Forwarded-Proto: https\r\n"
                           b"X-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer.decode("latin-1")


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured(fresh_app):
    """A local process must not choose the address that the audit log and the login throttle see (issue 27)."""
    import httpx

    from mifidelity.portal.audit import Action

    with BackgroundServer(fresh_app) as server:
        answer = _forwarded_login_page(server.port)
        with httpx.Client(base_url=server.url) as client:
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            client.post("/login", data={"username": "Coach A", "password": "wrong-password!", "csrf_token": token},
                        headers={"X-Forwarded-For": "203.0.113.9"})
    cookie = next(line for line in answer.split("\r\n") if line.lower().startswith("set-cookie:"))
    assert "secure" not in cookie.lower() and "strict-transport-security" not in answer.lower()
    events = [e for e in fresh_app.state.portal.audit.events() if e.action == Action.LOGIN_FAILED]
    assert [e.address for e in events] == ["127.0.0.1"]  # the peer, not what the header claims


def test_secure_cookies_when_the_trusted_proxy_says_https(portal_app):
    with BackgroundServer(portal_app, trusted_proxy="127.0.0.1") as server:
        plain = raw_get(server.port, "/login").decode("latin-1")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(b"GET /login HTTP/1.1\r\nHost: reports.example\r\nX-Forwarded-Proto: https\r\n"
                               b"X-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n")
            proxied = b""
            while chunk := connection.recv(65536):
                proxied += chunk
    proxied = proxied.decode("latin-1")
    cookie = lambda answer: next(line for line in answer.split("\r\n") if line.lower().startswith("set-cookie:"))
    assert "secure" not in cookie(plain).lower() and "secure" in cookie(proxied).lower()
    assert "strict-transport-security" in proxied.lower() and "strict-transport-security" not in plain.lower()


@pytest.mark.slow
def test_concurrent_logged_in_users_get_no_errors(tmp_path):
    """A smaller load than benchmarks/portal_load.py (which holds the latency target): 5 users x 40 requests,
    on the benchmark's own output folder (sample transcripts with their recordings)."""
    from portal_load import build_out, run_load

    from mifidelity.portal.app import create_app

    out, visible = build_out(tmp_path, coaches=4, supervisors=1)
    with BackgroundServer(create_app(out)) as server:
        result = asyncio.run(run_load(server.url, visible, requests=40))
    assert result.errors == [], result.errors[:5]
    assert len(result.all()) == 40 * len(visible) == 200
    assert set(result.latencies) == {"report", "overview", "feedback", "recording", "csv"}
