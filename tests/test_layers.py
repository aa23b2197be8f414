"""The package's shape: imports flow one way, no module imports itself back, files stay small.

The flow (README, developer section): faces -> data -> models -> train -> evaluate ->
explain / robustness -> studies -> report -> workflow -> serve / demo / cli. ``errors`` and
``config`` are shared by all. Imports inside functions count too: a lazy import hides a
dependency from import time, not from the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "facehealth"
# Package -> rank in the flow; a module may import from a lower rank or its own package.
RANK = {
    "errors": 0,
    "atomic": 0.25,  # crash-safe writes: imports only errors
    "config": 0.5,
    "docblocks": 0.5,
    "faces": 1,
    "data": 2,
    "models": 3,
    "train": 4,
    "evaluate": 5,
    "explain": 6,
    "robustness": 6,
    "studies": 7,
    "report": 8,
    "workflow": 9,
    "live": 9,
    "serve": 10,
    "demo": 10,
    "cli": 11,
    "__init__": 11,
}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(("facehealth", *parts)).removesuffix(".__init__")
        out[name] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """facehealth modules ``path`` imports (anywhere in the file), resolved to module names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith("facehealth.") and name in modules:
                found.add(name)
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_place_in_the_flow():
    assert {_package(m) for m in _modules()} <= set(RANK)


def test_imports_flow_one_way():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for target in _imports(path, modules):
            src, dst = _package(name), _package(target)
            if src != dst and RANK[dst] >= RANK[src]:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    # A package's __init__ re-exports its modules; that edge alone is not a cycle of the design.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(
                    " -> ".join(trail[trail.index(nxt) :] + [node, nxt]) if nxt in trail else f"{node}->{nxt}"
                )
            elif nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_source_file_over_400_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines; split it by responsibility"
