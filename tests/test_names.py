"""A name is defined once and imported (issue 28): the sample rate, the code columns and the coder's task list,
training's text versions, the coders' artifact folder."""

import ast

from support import ROOT

from mifidelity.coding.base import (ADHERENCE_COLUMN, CLIENT_CODE_COLUMNS, COACH_CODE_COLUMNS, CODE_COLUMNS, LABELS,
                                    PROBABILITY_COLUMNS)
from mifidelity.types import SAMPLE_RATE

COLUMN_NAMES = set(CODE_COLUMNS) | {ADHERENCE_COLUMN}
# Modules that still key tables by the columns' literal names: the packages other issue-28 work was changing
# when the names moved to coding.base (the lead narrows this).
NOT_YET: tuple[str, ...] = ()  # folders still to be moved to the constants (none now)
MARK = "# not a column"


def sources() -> dict[str, ast.AST]:
    paths = sorted((ROOT / "src").rglob("*.py")) + sorted((ROOT / "flows").glob("*.py"))
    return {path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8")) for path in paths}


def column_keys(tree: ast.AST, source: str = "") -> list[int]:
    """Lines where a code column's literal name keys a table or a dict: ``t["client_talk"]``,
    ``{"client_talk": ...}``, ``"client_talk" in t``; not a line that says ``# not a column`` (a report tag or a
    count that only shares the spelling)."""
    marked = {n for n, line in enumerate(source.splitlines(), 1) if line.rstrip().endswith(MARK) or f"{MARK}:" in line}
    lines = []
    for node in ast.walk(tree):
        keys = []
        if isinstance(node, ast.Subscript):
            keys = [node.slice]
        elif isinstance(node, ast.Dict):
            keys = [key for key in node.keys if key is not None]
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            keys = [node.left]
        lines += [key.lineno for key in keys if isinstance(key, ast.Constant) and key.value in COLUMN_NAMES
                  and key.lineno not in marked]
    return lines


def constants(tree: ast.AST, value) -> list[int]:
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value == value
            and type(node.value) is type(value)]


def literal_tuples(tree: ast.AST) -> list[tuple]:
    return [tuple(e.value for e in node.elts) for node in ast.walk(tree) if isinstance(node, (ast.Tuple, ast.List))
            and node.elts and all(isinstance(e, ast.Constant) for e in node.elts)]


def test_the_code_columns_are_the_labels_and_the_tasks():
    from mifidelity.training.data import TASKS

    assert tuple(LABELS) == CODE_COLUMNS == COACH_CODE_COLUMNS + CLIENT_CODE_COLUMNS
    assert TASKS is CODE_COLUMNS
    assert {code for code, _ in PROBABILITY_COLUMNS.values()} <= set(CODE_COLUMNS)


def test_the_checks_find_a_name_written_again():
    tree = ast.parse('x = t["client_talk"]\ny = {"adherence": 1}\nif "question" in t: pass\nrate = 16000\n'
                     'z = t["text"]\nVERSIONS = ("clean", "asr")\n"main_behaviour"\n')
    assert column_keys(tree) == [1, 2, 3]
    marked = 'x = t["client_talk"]\nfound = "question" in tags  # not a column: a tag\n'
    assert column_keys(ast.parse(marked), marked) == [1]
    assert constants(tree, SAMPLE_RATE) == [4] and constants(ast.parse("x = 16000.0"), SAMPLE_RATE) == []
    assert ("clean", "asr") in literal_tuples(tree)


def test_the_sample_rate_is_written_once():
    found = {name: lines for name, tree in sources().items() if (lines := constants(tree, SAMPLE_RATE))}
    assert found == {"src/mifidelity/types.py": constants(sources()["src/mifidelity/types.py"], SAMPLE_RATE)}
    assert len(found["src/mifidelity/types.py"]) == 1


def test_code_columns_are_keyed_by_their_constants():
    found = {name: lines for name, tree in sources().items()
             if name != "src/mifidelity/coding/base.py" and not any(part in name for part in NOT_YET)
             and (lines := column_keys(tree, (ROOT / name).read_text(encoding="utf-8")))}
    assert found == {}, "use the *_COLUMN names of mifidelity.coding.base"


def test_task_lists_versions_and_the_artifact_folder_are_defined_once():
    trees = sources()
    lists = {name: tuples for name, tree in trees.items() if (tuples := literal_tuples(tree))}
    for names in (CODE_COLUMNS, COACH_CODE_COLUMNS):
        assert [name for name, tuples in lists.items() if names in tuples] == []  # built from the constants
    assert [name for name, tuples in lists.items() if ("clean", "asr") in tuples] == ["src/mifidelity/training/data.py"]
    artifact_dirs = [name for name, tree in trees.items() for node in ast.walk(tree) if isinstance(node, ast.Assign)
                     and any(isinstance(t, ast.Name) and t.id == "ARTIFACT_DIR" for t in node.targets)]
    assert artifact_dirs == ["src/mifidelity/coding/base.py"]
