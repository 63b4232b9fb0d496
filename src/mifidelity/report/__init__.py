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
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from mifidelity.coding.base import ADHERENCE_COLUMN
from mifidelity.fidelity import session_verdict
from mifidelity.metrics import assess
from mifidelity.report.analysis import (
    BOOTSTRAP_ROUNDS,
    CODE_FILTERS,
    TAG_LABELS,
    best_complex_reflections,
    bootstrap_intervals,
    clock,
    find_recording,
    format_value,
    missed_opportunities,
    recording_url,
    scorecard,
    session_date,
    session_duration,
    suggestions,
    timeline,
    utterance_codes,
)
from mifidelity.report.fidelity_summary import miti_summary, non_adherent_moments, strengths
from mifidelity.session import CodedSession

__all__ = ["render_session_report", "report_context", "content_security_policy", "write_overview"]


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


def report_context(session: CodedSession, report_dir: str | Path | None = None) -> dict:
    """Everything the session report shows, as plain data (also used by the Prefect artifacts)."""
    assessment = assess(session.metrics)
    frame = session.utterances
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    missed = missed_opportunities(rows)
    moments = non_adherent_moments(rows)
    missed_rows = {m["client"] for m in missed} | {m["coach"] for m in missed}
    for i, row in enumerate(rows):
        row["text"] = "" if row.get("text") is None else str(row["text"])
        row["codes"] = utterance_codes(row) + (["missed"] if i in missed_rows else [])
        row["clock"] = clock(row.get("start"))
    counts = {code: sum(code in row["codes"] for row in rows) for code, _, _ in CODE_FILTERS}
    always = ("question", "reflection", "ct-change") + (("adherent", "non-adherent") if ADHERENCE_COLUMN in frame else ())
    filters = [{"code": code, "label": label, "count": counts[code]}
               for code, label, _ in CODE_FILTERS if counts[code] or code in always]
    intervals = bootstrap_intervals(frame)
    date, basis = session_date(session)
    duration = session_duration(session)
    coder = session.models.get("coding")
    fidelity = getattr(session, "fidelity", None)  # sessions built before the estimates have none
    return {
        "session": session,
        "metrics": session.metrics,
        "verdict": session_verdict(assessment, fidelity),
        "miti": miti_summary(session.metrics, fidelity),
        "cards": scorecard(session.metrics, intervals, session.expected_metrics),
        "intervals": intervals,
        "rounds": BOOTSTRAP_ROUNDS,
        "suggestions": suggestions(session.metrics, rows, missed, moments=moments),
        "try_moments": moments,
        "strengths": strengths(rows),
        "tl": timeline(rows),
        "best": best_complex_reflections(rows),
        "change_talk": [i for i, r in enumerate(rows) if "ct-change" in r["codes"]],
        "missed": missed,
        "utterances": rows,
        "filters": filters,
        "tag_labels": TAG_LABELS,
        "n_coach": sum(r["role"] == "coach" for r in rows),
        "n_client": sum(r["role"] != "coach" for r in rows),
        "date": date,
        "date_text": date.strftime("%Y-%m-%d %H:%M"),
        "date_basis": {"recorded": "date of the recording",
                       "recording file date": "modification time of the recording file",
                       "coded": "time the transcript was coded"}[basis],
        "duration": duration,
        "duration_text": clock(duration) if duration else "unknown",
        "audio_url": recording_url(find_recording(session.source), Path(report_dir) if report_dir else None),
        "coder_text": f"{coder.engine} coder, {coder.model}" if coder else "coder not recorded",
        "generated": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M"),
    }


def render_session_report(session: CodedSession, report_dir: str | Path | None = None) -> str:
    """The self-contained report.html of one session.

    ``report_dir`` is the folder the report will live in (``OUT/<session_id>``);
    when given, the audio player refers to the original recording by a path
    relative to it, otherwise by an absolute ``file:`` URL.
    """
    script = static_script("report.js")
    context = report_context(session, report_dir)
    return _environment().get_template("session.html.j2").render(
        csp=content_security_policy(script), script=script, **context)


def write_overview(out_dir):  # noqa: D401 - re-exported lazily to keep imports light
    """Rebuild ``OUT/index.html`` and ``OUT/sessions.csv``; see :func:`mifidelity.report.overview.write_overview`."""
    from mifidelity.report.overview import write_overview as _write

    return _write(out_dir)
