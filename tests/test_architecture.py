"""The house rules of docs/architecture.md that a machine can check: no import cycles, small modules."""

import ast
from pathlib import Path

import pytest

from support import ROOT

MAX_MODULE_LINES = 450  # "no module over about 400 lines" (issue 19), with a little slack


def modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "src").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    for path in (ROOT / "flows").glob("*.py"):
        found[f"mifidelity_flows.{path.stem}".removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every mifidelity module ``name`` imports, at any level (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return {m for m in found if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_hidden_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_hidden_or_not():
    known = modules()
    assert "mifidelity.diarization.embedding" in known and "mifidelity_flows.process_recording" in known
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert "mifidelity.session" in graph["mifidelity_flows.process_recording"]
    assert cycles(graph) == []


@pytest.mark.parametrize("name,path", sorted(modules().items()), ids=lambda v: v if isinstance(v, str) else "")
def test_no_module_is_too_long_to_read(name, path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines; split it by concern (docs/architecture.md)"
