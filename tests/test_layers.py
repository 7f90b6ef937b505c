"""The rooms of the code follow the data path (DESIGN.md): a lower room never
imports a higher one, and no module imports itself back through others.
Read from the code's own imports (every import, also those inside
functions), so a new arrow fails here before it settles in."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zergd"

# room -> rooms it must not import (a room is a folder under zergd/)
FORBIDDEN = {
    "transcript": {"archive", "archivist", "index", "watch", "ship", "api", "cli", "oikos", "accounts"},
    "archive": {"transcript", "archivist", "index", "watch", "ship", "api", "cli", "oikos", "accounts"},
    "index": {"archivist", "watch", "ship", "api", "cli", "oikos", "accounts"},
    "archivist": {"watch", "ship", "api", "cli", "oikos", "accounts"},
    "accounts": {"archivist", "watch", "ship", "api", "cli", "oikos"},
    "ship": {"watch", "api", "cli"},
    "watch": {"ship", "api", "cli"},
    "oikos": {"api", "cli"},
    "api": {"cli"},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules ``name`` imports (a package import counts as its __init__)."""
    tree = ast.parse(path.read_text("utf-8"))
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            wanted = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module or ""
            wanted = [f"{base}.{a.name}" for a in node.names] + ([base] if node.module or not node.level else [])
        else:
            continue
        for target in wanted:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
    return targets


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def test_no_room_imports_a_higher_one(graph):
    upward = sorted(f"{m} imports {d}" for m, deps in graph.items() for d in deps
                    if room(d) in FORBIDDEN.get(room(m), ()))
    assert upward == []


def test_no_import_cycle(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_rules_see_a_violation(tmp_path):
    """The reading of imports finds a relative import from inside a function."""
    path = tmp_path / "x.py"
    path.write_text("def f():\n    from ..watch.tailer import sync_file\n")
    found = imports_of("zergd.index.x", path, {"zergd.watch.tailer", "zergd.watch", "zergd.index.x"})
    assert found == {"zergd.watch.tailer"}
    assert room("zergd.watch.tailer") == "watch" and room("zergd.errors") == ""


def test_modules_and_functions_stay_small():
    """Sizes a newcomer can read: no module over 450 lines, no function over
    80, and nine functions in ten at most 25 (the code's own measure, #22)."""
    import statistics

    lengths, big_modules = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text("utf-8")
        if len(text.splitlines()) > 450:
            big_modules.append(path.name)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths.append((node.end_lineno - node.lineno + 1, f"{path.name}:{node.name}"))
    assert big_modules == []
    assert [name for n, name in lengths if n > 80] == []
    assert statistics.quantiles([n for n, _ in lengths], n=10)[8] <= 25
