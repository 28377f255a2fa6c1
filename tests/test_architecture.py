"""The import graph of the project's own code has no cycles (issue 11).

A cycle between modules is hidden by an import placed inside a function; ruff's PLC0415
flags those, and this test checks the graph the top-level imports make: module A imports B
when A's top-level code (not a function body, not an `if TYPE_CHECKING:` block) imports B or
something from B. Importing `a.b.c` also runs `a` and `a.b`, so those count as imported too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dgbox", "tenants", "cms", "services", "infra", "demo")


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or path.name.startswith("test_"):
                continue
            yield _module_name(path), path


def _top_level_imports(tree):
    """Import nodes that run when the module is imported."""
    found = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef)):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])
    visit(tree.body)
    return found


def import_graph():
    sources = dict(_sources())
    modules = set(sources)
    graph = {}
    for name, path in sources.items():
        is_package = path.name == "__init__.py"
        targets = set()
        for node in _top_level_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules
                              else base for alias in node.names]
            for target in candidates:
                parts = target.split(".")
                for end in range(1, len(parts) + 1):  # a.b.c also runs a and a.b
                    prefix = ".".join(parts[:end])
                    if prefix in modules and prefix != name and not name.startswith(prefix + "."):
                        targets.add(prefix)
        graph[name] = targets
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_graph_is_read():
    graph = import_graph()
    assert "services.cases.engine" in graph["services.applications.submission"]
    assert "services.forms.models" in graph["services.cases.models"]
    assert "services" in graph["services.cases.models"] or "services.forms" in graph[
        "services.cases.models"]


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    found = [c for c in cycles(import_graph()) if any(m.split(".")[0] == package for m in c)]
    assert found == [], f"import cycles: {found}"
