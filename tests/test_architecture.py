"""The house rules of docs/architecture.md that a machine can check: no import cycles, small modules, every
import running down the floors, and a runtime that needs nothing from training or its extra."""

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from support import ROOT

MAX_MODULE_LINES = 450  # "no module over about 400 lines" (issue 19), with a little slack

# The floors of the import map, bottom to top (issue 28): a module imports only from its own floor or a lower
# one. "x.*" is the package x and everything in it. The stages (1.x) are in the order a recording goes through
# them, so a stage reads what the stages before it give (the session estimates read codes and metrics) and
# never what comes after. Training is on top: it may use the whole runtime, and nothing uses it.
FLOORS: dict[float, list[str]] = {
    0: ["mifidelity", "mifidelity.types", "mifidelity.errors", "mifidelity.engines", "mifidelity.config",
        "mifidelity.files", "mifidelity.privacy", "mifidelity.cache_storage"],
    1.1: ["mifidelity.audio", "mifidelity.transcript_input"],  # decode; a transcript CSV replaces stages 1-5
    1.2: ["mifidelity.transcription.*"],
    1.3: ["mifidelity.diarization.*"],
    1.4: ["mifidelity.alignment"],
    1.5: ["mifidelity.roles", "mifidelity.coach_voices"],
    1.6: ["mifidelity.coding.*"],
    1.7: ["mifidelity.metrics"],
    1.8: ["mifidelity.fidelity"],
    1.9: ["mifidelity.model_inventory"],  # what `models list` shows: the stages' engines and artifacts
    2: ["mifidelity.session"],
    3: ["mifidelity.outputs.*", "mifidelity.report.*"],
    3.5: ["mifidelity.pipeline.*"],  # the stages run end to end, the session folder written
    4: ["mifidelity.service.*", "mifidelity.portal.*"],
    5: ["mifidelity.cli.*", "mifidelity_flows.*"],
    6: ["mifidelity.training.*"],
}
TRAINING = "mifidelity.training"
# A distribution whose import name is not its own name with "-" as "_" (test_train_extra_import_names_are_right
# checks every name against the installed distribution's files).
IMPORT_NAMES = {"scikit-learn": "sklearn", "pyyaml": "yaml"}
# The CLI in a Python where the modules named in argv[1] cannot be imported (as without the train extra).
WITHOUT = """
import sys
blocked, tried = tuple(sys.argv[1].split(",")), []
class Missing:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from mifidelity.cli import main
sys.argv = ["mifidelity", *sys.argv[2:]]
try:
    main()
finally:
    print("imports of missing modules:", tried, file=sys.stderr)
"""


def modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "src").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT / "src").with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    for path in (ROOT / "flows").glob("*.py"):
        found[f"mifidelity_flows.{path.stem}".removesuffix(".__init__")] = path
    return found


def import_statements(name: str, source: str, is_package: bool):
    """(module, names) of every import in ``source``, at any level (inside functions too), relative ones made
    absolute: ``import a.b`` gives ("a.b", []), ``from a import b, c`` gives ("a", ["b", "c"])."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            yield base, [alias.name for alias in node.names]


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every mifidelity module ``name`` imports, at any level (inside functions too)."""
    found = set()
    for base, names in import_statements(name, path.read_text(encoding="utf-8"), path.name == "__init__.py"):
        found |= {f"{base}.{n}" if f"{base}.{n}" in known else base for n in names} if names else {base}
    return {m for m in found if m in known and m != name}


def imported_names(name: str, source: str, is_package: bool = False) -> set[str]:
    """Every dotted name ``source`` imports, mifidelity's or not: ``from a import b`` gives a and a.b."""
    found = set()
    for base, names in import_statements(name, source, is_package):
        found |= {base} | {f"{base}.{n}" for n in names}
    return found


def floor_of(name: str) -> list[float]:
    """The floors whose patterns take ``name`` (exactly one, or the table is wrong)."""
    return [floor for floor, patterns in FLOORS.items()
            if any(name == p.removesuffix(".*") or (p.endswith(".*") and name.startswith(p[:-1])) for p in patterns)]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a lower floor to a higher one."""
    return [f"{name} (floor {floor_of(name)[0]:g}) imports {other} (floor {floor_of(other)[0]:g})"
            for name, others in sorted(graph.items()) for other in sorted(others)
            if floor_of(other)[0] > floor_of(name)[0]]


def train_extra_imports() -> dict[str, str]:
    """The import name of every package of pyproject's ``train`` extra (distribution -> import name)."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    names = [re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower() for requirement in extra["train"]]
    return {dist: IMPORT_NAMES.get(dist, dist.replace("-", "_")) for dist in names}


def needs_training(name: str, source: str, is_package: bool, forbidden: set[str]) -> set[str]:
    """What ``source`` imports from training or from the packages only the ``train`` extra installs."""
    return {found for found in imported_names(name, source, is_package)
            for bad in forbidden if found == bad or found.startswith(bad + ".")}


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


def test_every_module_is_on_exactly_one_floor():
    misplaced = {name: floor_of(name) for name in modules() if len(floor_of(name)) != 1}
    assert misplaced == {}, "place each module on one floor in FLOORS (tests/test_architecture.py)"


def test_the_floor_check_finds_an_import_running_up():
    assert upward_imports({"mifidelity.fidelity": {"mifidelity.metrics", "mifidelity.coding.base"}}) == []
    assert upward_imports({"mifidelity.coding.base": {"mifidelity.metrics"},
                           "mifidelity.types": {"mifidelity.training.fidelity"}}) == [
        "mifidelity.coding.base (floor 1.6) imports mifidelity.metrics (floor 1.7)",
        "mifidelity.types (floor 0) imports mifidelity.training.fidelity (floor 6)"]


def test_no_import_runs_from_a_lower_floor_to_a_higher_one():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert upward_imports(graph) == []


def test_train_extra_import_names_are_right():
    extra = train_extra_imports()
    assert {"matplotlib", "jiwer", "pyannote.metrics"} <= set(extra.values())
    for dist, module in extra.items():
        folder, single = module.replace(".", "/") + "/", module.replace(".", "/") + ".py"
        files = [str(f) for f in importlib.metadata.files(dist) or []]
        assert any(f.startswith(folder) or f == single for f in files), f"{dist} does not install {module}"


def test_the_training_check_finds_every_way_to_import_it():
    forbidden = {TRAINING, "matplotlib", "pyannote.metrics"}
    assert needs_training("mifidelity.report.x", "def plot():\n    import matplotlib.pyplot as plt\n", False,
                          forbidden) == {"matplotlib.pyplot"}
    assert needs_training("mifidelity.coding", "from .. import training\n", True, forbidden) == {TRAINING}
    assert needs_training("mifidelity.metrics", "from mifidelity.training.data import TASKS\n", False,
                          forbidden) == {TRAINING + ".data", TRAINING + ".data.TASKS"}
    assert needs_training("mifidelity.x", "from pyannote import metrics\n", False, forbidden) == {"pyannote.metrics"}
    assert needs_training("mifidelity.x", "from pyannote.core import Segment\nimport matplotlibx\n", False,
                          forbidden) == set()


def test_the_runtime_needs_nothing_from_training_or_the_train_extra():
    """The runtime installs and runs without ``mifidelity[train]`` (issue 28)."""
    forbidden = {TRAINING, *train_extra_imports().values()}
    found = {name: sorted(bad) for name, path in modules().items()
             if name != TRAINING and not name.startswith(TRAINING + ".")
             and (bad := needs_training(name, path.read_text(encoding="utf-8"), path.name == "__init__.py", forbidden))}
    assert found == {}, "training code and its packages stay in mifidelity.training"


@pytest.mark.slow
def test_a_transcript_is_coded_without_training_and_its_extra(tmp_path):
    missing = ",".join([TRAINING, *train_extra_imports().values()])
    truth = ROOT / "sample_audio" / "session1_alcohol.truth.csv"
    result = subprocess.run([sys.executable, "-c", WITHOUT, missing, "code", str(truth), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imports of missing modules: []" in result.stderr
    assert (tmp_path / truth.stem / "report.html").exists() and (tmp_path / truth.stem / "session.json").exists()
