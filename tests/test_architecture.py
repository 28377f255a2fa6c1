"""The import graph of the project's own code has no cycles (issue 11).

A cycle between modules is hidden by an import placed inside a function; ruff's PLC0415
flags those, and this test checks the graph the top-level imports make: module A imports B
when A's top-level code (not a function body, not an `if TYPE_CHECKING:` block) imports B or
something from B. Importing `a.b.c` also runs `a` and `a.b`, so those count as imported too.

Tests do not import one another either: what they share is in tests/factories.py and in
conftest fixtures (the last tests below).
"""

import ast
import re
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


# --- Tests share helpers through tests/factories.py and conftest fixtures (issue 11) ----------
TESTS = ROOT / "tests"


def imported_test_modules(source, module, *, is_package=False, root="tests"):
    """The test modules (root/**/test_*.py) and conftest modules that `module`'s code imports,
    anywhere in it, or names in a dotted-path string (what settings and import_string load);
    the module itself aside."""
    test_module = re.compile(rf"{root}(\.\w+)*\.(test_\w+|conftest)")
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[:len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and re.fullmatch(r"\w+(\.\w+)+", node.value)):
            parts = node.value.split(".")
            names = [".".join(parts[:end]) for end in range(2, len(parts) + 1)]
        else:
            continue
        found |= {name for name in names if test_module.fullmatch(name) and name != module}
    return sorted(found)


def test_the_test_import_finder_finds_them():
    source = """
from . import test_cases, factories
from .test_apply import make_service
from .factories import OnlineServiceFactory
from ._support import run
import pkg.test_forms
from .conftest import launch

def helper():
    from .browser.test_citizen import assert_accessible
    settings.SMS = "pkg.test_notifications.RefusingSMSBackend"
    settings.EMAIL = "pkg.test_tracking.UnreachableEmailBackend"  # its own: allowed
    return "pkg.test_x is a sentence, not a path"
"""
    assert imported_test_modules(source, "pkg.test_tracking", root="pkg") == [
        "pkg.browser.test_citizen", "pkg.conftest", "pkg.test_apply", "pkg.test_cases",
        "pkg.test_forms", "pkg.test_notifications"]
    assert imported_test_modules("from ..test_apply import x", "pkg.browser.test_citizen",
                                 root="pkg") == ["pkg.test_apply"]
    assert imported_test_modules("from .test_citizen import x", "pkg.browser",
                                 is_package=True, root="pkg") == ["pkg.browser.test_citizen"]
    assert imported_test_modules("from .factories import NORTH", "pkg.test_apply",
                                 root="pkg") == []


def test_tests_import_helpers_only_from_factories_fixtures_and_production_code():
    """No test module imports another (nor a conftest, which pytest loads itself): shared
    helpers live in tests/factories.py, shared fixtures in a conftest.py."""
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        module = _module_name(path)
        names = imported_test_modules(path.read_text(), module,
                                      is_package=path.name == "__init__.py")
        if names:
            found[module] = names
    assert found == {}, ("move what these share to tests/factories.py or a conftest "
                         f"fixture: {found}")
