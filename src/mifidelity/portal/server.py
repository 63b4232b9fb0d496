"""Running the portal under uvicorn, in the foreground (`mifidelity serve`) or in a background thread (tests)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


def uvicorn_config(app, host: str, port: int, trusted_proxy: str = "", log_level: str = "info",
                   access_log: bool = True) -> uvicorn.Config:
    """The one uvicorn setup: proxy headers only from ``trusted_proxy`` (none unless configured), no Server header.

    By default no ``X-Forwarded-For`` / ``-Proto`` is believed, not even from loopback: any local process
    could otherwise choose the address that the audit log records and the login throttle counts.

    The access log prints methods, paths (session ids, utterance numbers; never transcript text) and statuses.
    """
    return uvicorn.Config(app, host=host, port=port, proxy_headers=bool(trusted_proxy),
                          forwarded_allow_ips=trusted_proxy or None, server_header=False, log_level=log_level,
                          access_log=access_log, timeout_graceful_shutdown=5)


class BackgroundServer:
    """``with BackgroundServer(app) as server: ... server.url``: the app on a free loopback port in a thread."""

    def __init__(self, app, host: str = "127.0.0.1", log_level: str = "warning", access_log: bool = False,
                 trusted_proxy: str = ""):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, 0))
        self.host, self.port = self.socket.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn_config(app, host, self.port, trusted_proxy, log_level=log_level,
                                                    access_log=access_log))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()
