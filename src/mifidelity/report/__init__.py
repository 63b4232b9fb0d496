"""The per-session HTML report and the supervisor overview.

Both are single self-contained HTML files: CSS, plots (inline SVG / HTML) and
script are inline and a Content-Security-Policy forbids every network load.
Jinja2 autoescapes every string that comes from a transcript, a file name or
a coach's name; the only inline script is a fixed file whose SHA-256 hash is
the only script the policy allows, so even a string that escaped escaping
could not run. Nothing here logs transcript text.
"""

from __future__ import annotations

from pathlib import Path

from mifidelity.report.session_report import SessionReport, build_session_report
from mifidelity.report.templating import content_security_policy, environment, static_script
from mifidelity.session import CodedSession

__all__ = ["render_session_report", "SessionReport", "build_session_report", "content_security_policy",
           "static_script"]


def render_session_report(session: CodedSession, report_dir: str | Path | None = None,
                          recording: str | Path | None = None) -> str:
    """The self-contained report.html of one session.

    ``report_dir`` is the folder the report will live in (``OUT/<session_id>``);
    when given, the audio player refers to the original recording by a path
    relative to it, otherwise by an absolute ``file:`` URL. ``recording`` is
    where the original is when it has moved from the session's source (the
    inbox archives it); by default it is found from the source.
    """
    script = static_script("report.js")
    return environment().get_template("session.html.j2").render(
        csp=content_security_policy(script), script=script,
        report=build_session_report(session, report_dir, recording))
