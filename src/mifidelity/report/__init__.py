"""The per-session HTML report and the supervisor overview.

Both are single self-contained HTML files: CSS, plots (inline SVG / HTML) and
script are inline and a Content-Security-Policy forbids every network load.
Jinja2 autoescapes every string that comes from a transcript, a file name or
a coach's name; the only inline script is a fixed file whose SHA-256 hash is
the only script the policy allows, so even a string that escaped escaping
could not run. Nothing here logs transcript text.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from mifidelity.report.formatting import clock, format_value
from mifidelity.report.session_report import SessionReport, build_session_report
from mifidelity.session import CodedSession

__all__ = ["render_session_report", "SessionReport", "build_session_report", "content_security_policy",
           "write_overview"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
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


def render_session_report(session: CodedSession, report_dir: str | Path | None = None) -> str:
    """The self-contained report.html of one session.

    ``report_dir`` is the folder the report will live in (``OUT/<session_id>``);
    when given, the audio player refers to the original recording by a path
    relative to it, otherwise by an absolute ``file:`` URL.
    """
    script = static_script("report.js")
    return _environment().get_template("session.html.j2").render(
        csp=content_security_policy(script), script=script, report=build_session_report(session, report_dir))


def write_overview(out_dir):  # noqa: D401 - re-exported lazily to keep imports light
    """Rebuild ``OUT/index.html`` and ``OUT/sessions.csv``; see :func:`mifidelity.report.overview.write_overview`."""
    from mifidelity.report.overview import write_overview as _write

    return _write(out_dir)
