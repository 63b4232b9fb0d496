"""The session's Prefect artifacts: published only inside a flow or task run (tests/flows/test_flow_tasks.py reads
them back after a real run); what they say is tested with the report (tests/report/test_report.py)."""

import ast

from mifidelity_flows.artifacts import publish_session_artifacts
from support import ROOT
from support.reports import coded_session


def test_artifacts_do_nothing_outside_a_flow_run():
    session = coded_session([("coach", "What brings you here?", "open"), ("client", "My drinking.", "neutral")])
    assert publish_session_artifacts(session) is None


def imported(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return ({alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module})


def test_nothing_under_report_or_pipeline_imports_prefect():
    folders = [ROOT / "src" / "mifidelity" / "report", ROOT / "src" / "mifidelity" / "pipeline"]
    found = {path.name: name for folder in folders for path in folder.rglob("*.py") for name in imported(path)
             if name.split(".")[0] == "prefect"}
    assert found == {}
    assert "prefect.artifacts" in imported(ROOT / "flows" / "artifacts.py")  # the check sees an import
