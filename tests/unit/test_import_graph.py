"""The package's modules import each other without a circle, lazy and type-checking imports included."""
from __future__ import annotations

import ast
from pathlib import Path

from fixtures import ROOT

PACKAGE = ROOT / "mysqlbuild"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the package that `name` imports, wherever the import statement stands."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if candidate in known:
                    found.add(candidate)          # from package import submodule
                elif base in known:
                    found.add(base)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_is_read_right():
    edges = graph()
    assert "mysqlbuild.engine" in edges["mysqlbuild.pipeline"]
    assert "mysqlbuild.stages" in edges["mysqlbuild.pipeline"]
    assert "mysqlbuild.stages.rpms" in edges["mysqlbuild.stages"]          # from . import rpms
    assert "mysqlbuild.baseimage" in edges["mysqlbuild.stages.base"]      # from .. import baseimage
    assert "mysqlbuild.target" in edges["mysqlbuild.stages.common"]


def test_the_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_inside_the_package():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_stages_know_each_other_only_through_common():
    edges = graph()
    stage_modules = {n for n in edges if n.startswith("mysqlbuild.stages.") and n != "mysqlbuild.stages.common"}
    for name in stage_modules:
        others = edges[name] & stage_modules
        assert not others, f"{name} imports {sorted(others)}: stages share only stages/common.py"
