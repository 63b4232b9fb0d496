"""The report's Jinja2 environment, its one fixed script and the Content-Security-Policy that allows only it.

Shared by the session report (:mod:`mifidelity.report`) and the supervisor overview
(:mod:`mifidelity.report.overview`).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from importlib import resources

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from mifidelity.report.formatting import clock, format_value


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mifidelity", "report/templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = clock
    env.filters["metric"] = lambda value, metric: format_value(metric, value)
    return env


@lru_cache(maxsize=None)
def static_script(name: str) -> str:
    """A fixed script from the templates folder (never templated: its hash is in the CSP)."""
    return resources.files("mifidelity").joinpath("report", "templates", name).read_text(encoding="utf-8")


def content_security_policy(script: str) -> Markup:
    """Allow only this exact inline script, inline styles, data: images and the local recording.

    A fixed string (no user data), marked safe so its quotes stay readable in the meta tag."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return Markup("default-src 'none'; "
            f"script-src 'sha256-{digest}'; "
            "style-src 'unsafe-inline'; img-src data:; media-src 'self' file: blob: data:; "
            "connect-src 'none'; font-src 'none'; object-src 'none'; frame-src 'none'; "
            "base-uri 'none'; form-action 'none'")
