"""The layers of docs/architecture.md, checked on the code: imports flow one way, no cycles.

Every ``import`` of ``jobs`` and ``udfs`` (module level and inside functions) is read from the
source with ``ast``. A module may import its own layer and the layers below it, never above.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module belongs to the first entry that is it or a package above it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("udfs",),  # what the Python workers run; nothing of Spark or of jobs
    ("jobs.config", "jobs.catalog", "jobs.atomic", "jobs"),  # declarations every layer reads
    ("jobs.lake",),  # the Delta tables
    ("jobs.quality",),  # checks over what the stages make and the lake holds
    ("jobs.ops", "jobs.dev", "jobs.session", "jobs.learn"),  # running it; evaluation and training
    ("jobs.stages",),  # the per-document stages
    ("jobs.pipeline", "jobs.console", "jobs.cli", "jobs.spark_entry"),  # entry points
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best: tuple[int, int] | None = None  # (length of the matched prefix, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    if best is None:
        raise AssertionError(f"{module} is in no layer of tests/test_architecture.py")
    return best[1]


def modules() -> dict[str, Path]:
    return {module_name(path): path for folder in ("jobs", "udfs") for path in sorted((ROOT / folder).rglob("*.py"))}


def imports(path: Path, *, top_level_only: bool = False) -> Iterator[tuple[str, int]]:
    """(imported module, line) of every jobs/udfs/pyspark import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module ``name`` refers to (``from pkg import name`` may name a module or an attribute)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def test_every_module_has_a_layer():
    for module in modules():
        layer_of(module)


def test_imports_flow_from_entry_points_down_to_the_workers():
    known = modules()
    upward = []
    for module, path in known.items():
        for name, line in imports(path):
            target = resolve(name, known)
            if target is not None and layer_of(target) > layer_of(module):
                upward.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target}")
    assert upward == []


def test_the_worker_code_imports_no_spark_at_module_level():
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for module, path in modules().items()
        if module.startswith("udfs")
        for name, line in imports(path, top_level_only=True)
        if name == "pyspark" or name.startswith("pyspark.")
    ]
    assert found == []


def test_no_import_cycle_at_module_level():
    known = modules()
    graph = {
        module: {
            target
            for name, _ in imports(path, top_level_only=True)
            if (target := resolve(name, known)) is not None and target != module
        }
        for module, path in known.items()
    }
    # A package's __init__ importing its own submodules is how a package exports them.
    graph = {module: {t for t in targets if not t.startswith(module + ".")} for module, targets in graph.items()}
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(target) :], target]))
            if target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_layer_check_can_fail(tmp_path):
    assert layer_of("jobs.lake.tables") < layer_of("jobs.stages.ner") < layer_of("jobs.cli")
    assert layer_of("jobs.catalog.stages") < layer_of("jobs.lake.state")
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("elsewhere.module")
