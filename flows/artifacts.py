"""The session in the Prefect UI: its summary and metrics as Prefect artifacts.

What they say is plain formatting in :mod:`mifidelity.report.artifacts` (numbers and fixed sentences,
never transcript text); this module only hands it to Prefect, inside a flow or task run.
"""

from __future__ import annotations

import logging

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext, TaskRunContext

from mifidelity.report.artifacts import artifact_key, session_markdown, session_table
from mifidelity.session import CodedSession

log = logging.getLogger(__name__)


def publish_session_artifacts(session: CodedSession) -> dict[str, object] | None:
    """Create the session's markdown and table artifacts in the current Prefect flow run.

    Returns the artifacts' ids (``{"markdown": ..., "table": ...}``), or ``None``
    when called outside a flow/task run or when Prefect cannot store them (a
    failure here never fails the session: its files are already written).
    """
    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return None
    try:
        key = artifact_key(session.session_id)
        markdown_id = create_markdown_artifact(
            markdown=session_markdown(session), key=f"{key}-summary",
            description="MI fidelity summary (no transcript text)")
        table_id = create_table_artifact(
            table=session_table(session), key=f"{key}-metrics",
            description="MI fidelity metrics with 95% bootstrap intervals")
        return {"markdown": markdown_id, "table": table_id}
    except Exception as exc:  # noqa: BLE001 - artifacts are a convenience, never a failure
        log.warning("could not publish Prefect artifacts (%s)", type(exc).__name__)
        return None
