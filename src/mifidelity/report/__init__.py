"""The per-session HTML report (Jinja2, autoescaped: every transcript string is escaped)."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape

from mifidelity.metrics import assess, overall_verdict
from mifidelity.session import CodedSession


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mifidelity", "report/templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = _clock
    return env


def _clock(seconds) -> str:
    if seconds is None or seconds != seconds:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def _tags(row: dict) -> list[tuple[str, str]]:
    """(css class, label) pairs for the codes of one utterance."""
    tags = []
    if row["role"] == "coach":
        if row.get("question") in ("open", "closed"):
            tags.append((f"q-{row['question']}", f"{row['question']} question"))
        if row.get("reflection") in ("simple", "complex"):
            tags.append((f"r-{row['reflection']}", f"{row['reflection']} reflection"))
        if row.get("giving_information") in (True, "True", "true"):
            tags.append(("gi", "giving information"))
        if not tags and row.get("main_behaviour"):
            tags.append((f"mb-{row['main_behaviour']}", str(row["main_behaviour"])))
    elif row.get("client_talk"):
        tags.append((f"ct-{row['client_talk']}", f"{row['client_talk']} talk"))
    return tags


def render_session_report(session: CodedSession) -> str:
    """The self-contained report.html of one session."""
    assessment = assess(session.metrics)
    rows = session.utterances.astype(object).where(session.utterances.notna(), None).to_dict(orient="records")
    for row in rows:
        row["tags"] = _tags(row)
    return _environment().get_template("session.html.j2").render(
        session=session,
        metrics=session.metrics,
        assessment=assessment.to_dict(orient="records"),
        verdict=overall_verdict(assessment),
        utterances=rows,
    )
