"""The documentation names only things that exist, and lists everything it promises to list.

- Every repository path, `make` target and `dgbox` command named in README.md, CONTRIBUTING.md
  and docs/**/*.md exists (paths in backticks, code blocks and links; commands at the start of
  a code span or line, or after `--`).
- docs/configuration.md lists every environment variable the code reads (and the deployment
  templates set), and nothing else; every `DGBOX_*` name in the docs is read or is a setting.
- docs/cli.md lists every project management command and each of its subcommands.
- docs/dependencies.md gives a reason for every dependency of pyproject.toml and
  frontend/package.json, and lists no other package.
- The pre-commit ruff hook runs a ruff version pyproject.toml allows.

`mkdocs build --strict` (in `make test`) checks the links between pages and the nav.
No database is used.
"""

import argparse
import ast
import json
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SKIP_DIRS = {".git", ".venv", "node_modules", ".state", "site", "build", "dist", "__pycache__"}

# --- Reading the Markdown ---------------------------------------------------------------------


def doc_files():
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(DOCS.rglob("*.md"))]
    return [f for f in files if f.exists()]


FENCE = re.compile(r"^(\s*)(```|~~~)")
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def code_chunks(text):
    """(kind, text) for every fenced-code line ("line") and inline code span ("span")."""
    in_fence = False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            yield "line", line
        else:
            for span in CODE_SPAN.findall(line):
                yield "span", span


def prose(text):
    """The text outside fenced code blocks."""
    out, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            out.append(line)
    return "\n".join(out)


def rel(path):
    return path.relative_to(ROOT).as_posix()


# --- Paths ------------------------------------------------------------------------------------

TOP_LEVEL = {p.name for p in ROOT.iterdir() if p.name not in SKIP_DIRS}
PLACEHOLDER = re.compile(r"\.\.\.|[<>*{}$|\[\]]|://|^/|^~")
STRIP = "`'\"()[],;:."


# Object keys in the bucket that happen to start like a repository folder (docs/storage.md).
NOT_REPOSITORY_PATHS = {"tenants/nor", "tenants/north/"}


def path_candidates(chunk):
    """Tokens that name a repository path: `first/segment...` with a known top-level name.
    Placeholders (`<schema>`, `...`), globs, variables and URLs are not paths."""
    for raw in chunk.split():
        if PLACEHOLDER.search(raw.strip("`'\"()[],;:")):
            continue
        token, _, test_name = raw.strip(STRIP).partition("::")
        if "/" not in token or token in NOT_REPOSITORY_PATHS:
            continue
        if token.split("/")[0] in TOP_LEVEL:
            yield token, test_name


def path_exists(token):
    return (ROOT / token).exists()


def named_paths():
    for md in doc_files():
        text = md.read_text(encoding="utf-8")
        for _kind, chunk in code_chunks(text):
            for token, test_name in path_candidates(chunk):
                yield md, token, test_name
        for target in LINK.findall(prose(text)):
            target = target.split("#")[0]
            if not target or "://" in target or target.startswith(("mailto:", "/")):
                continue
            resolved = (md.parent / target).resolve()
            yield md, (rel(resolved) if resolved.is_relative_to(ROOT) else target), ""


def test_every_path_the_docs_name_exists():
    missing = set()
    for md, token, test_name in named_paths():
        if not path_exists(token):
            missing.add(f"{rel(md)}: {token}")
        elif test_name and (ROOT / token).is_file():
            source = (ROOT / token).read_text(encoding="utf-8")
            if not re.search(rf"def {re.escape(test_name.rstrip('.'))}", source):
                missing.add(f"{rel(md)}: {token}::{test_name}")
    assert not missing, "named in the docs but not in the repository:\n" + "\n".join(
        sorted(missing)
    )


def test_the_path_scanner_finds_paths():
    """Guards the scanner itself: a known path in a known page is seen."""
    found = {token for md, token, _ in named_paths() if md.name == "storage.md"}
    assert "infra/s3.py" in found
    assert not any("<" in token for token in found)


# --- Commands ---------------------------------------------------------------------------------

COMMAND_AT = re.compile(r"(?:^\s*(?:\$\s+)?|\s--\s+|&&\s+|;\s+)(?:[\w./-]*/)?(dgbox|make)(?=\s)")
WORD = re.compile(r"^[a-z][a-z0-9_-]*$")


def named_commands(files=None):
    """(file, program, [words after it]) for each `dgbox ...` / `make ...` in code."""
    for md in files or doc_files():
        for _kind, chunk in code_chunks(md.read_text(encoding="utf-8")):
            for match in COMMAND_AT.finditer(chunk):
                yield md, match.group(1), chunk[match.end() :].split()


def makefile_targets():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M))


@pytest.fixture(scope="module")
def django_commands():
    return get_commands()


def command_parser(name, app):
    return load_command_class(app, name).create_parser("dgbox", name)


def choices_of(parser):
    """The words the first positional argument accepts: subcommands, or a fixed choice."""
    for action in parser._actions:  # argparse has no public listing of its arguments
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
        if not action.option_strings:
            return dict.fromkeys(action.choices) if action.choices else None
    return None


def alternatives(word):
    parts = word.split("|")
    return parts if all(WORD.match(p) for p in parts) else None


def test_every_make_target_and_dgbox_command_the_docs_name_exists(django_commands):
    targets = makefile_targets()
    wrong, checked = set(), 0
    for md, program, words in named_commands():
        if not words or not alternatives(words[0]):
            continue
        checked += 1
        if program == "make":
            wrong |= {f"{rel(md)}: make {t}" for t in alternatives(words[0]) if t not in targets}
            continue
        for name in alternatives(words[0]):
            if name == "help":
                continue
            if name not in django_commands:
                wrong.add(f"{rel(md)}: dgbox {name}")
                continue
            parser, said = command_parser(name, django_commands[name]), [name]
            for word in words[1:]:
                choices = choices_of(parser) if parser else None
                options = alternatives(word)
                if choices is None or options is None:
                    break
                unknown = [o for o in options if o not in choices]
                if unknown:
                    wrong.add(f"{rel(md)}: dgbox {' '.join(said)} {'|'.join(unknown)}")
                    break
                said.append(word)
                parser = choices[options[0]] if len(options) == 1 else None
    assert checked > 50, checked  # the scanner sees the commands in the docs
    assert not wrong, "commands the docs name that do not exist:\n" + "\n".join(sorted(wrong))


def project_commands():
    return {
        path.stem: path
        for path in source_files(".py")
        if path.parent.parts[-2:] == ("management", "commands") and path.stem != "__init__"
    }


def test_the_cli_page_lists_every_command_and_subcommand(django_commands):
    documented = set()
    for _md, program, words in named_commands([DOCS / "cli.md"]):
        if program == "dgbox" and words and alternatives(words[0]):
            for name in alternatives(words[0]):
                documented.add((name,))
                if len(words) > 1 and alternatives(words[1]):
                    documented |= {(name, sub) for sub in alternatives(words[1])}
    commands = project_commands()
    assert {"tenant", "rollout", "demo"} <= set(commands), commands
    missing = []
    for name in sorted(commands):
        if (name,) not in documented:
            missing.append(f"dgbox {name}")
            continue
        choices = choices_of(command_parser(name, django_commands[name])) or {}
        missing += [f"dgbox {name} {sub}" for sub in choices if (name, sub) not in documented]
    assert not missing, "not on docs/cli.md:\n" + "\n".join(missing)


# --- Environment variables --------------------------------------------------------------------

ENVIRON_METHODS = {
    "bool",
    "int",
    "float",
    "str",
    "list",
    "tuple",
    "dict",
    "json",
    "url",
    "path",
    "db",
    "db_url",
    "email",
    "email_url",
    "cache",
    "cache_url",
    "search_url",
}
VAR = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")


def _is_os_environ(node):
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _first_str(call):
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def python_env_reads(source):
    """Variables a Python module reads: django-environ's env(...), env.int(...) etc.,
    os.environ[...] / .get / .setdefault / `in`, os.getenv, and infra.localservices'
    env_port("NAME", default)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func, name = node.func, None
            if isinstance(func, ast.Name) and func.id in ("env", "env_port"):
                name = _first_str(node)
            elif isinstance(func, ast.Attribute):
                if (
                    func.attr in ENVIRON_METHODS
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "env"
                ):
                    name = _first_str(node)
                elif func.attr in {"get", "setdefault", "pop"} and _is_os_environ(func.value):
                    name = _first_str(node)
                elif (
                    func.attr == "getenv"
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "os"
                ):
                    name = _first_str(node)
            if name:
                found.add(name)
        elif (
            isinstance(node, ast.Subscript)
            and _is_os_environ(node.value)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.slice, ast.Constant)
        ):
            found.add(node.slice.value)
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Constant)
            and any(isinstance(op, ast.In) for op in node.ops)
            and any(_is_os_environ(c) for c in node.comparators)
        ):
            found.add(node.left.value)
    return found


def source_files(suffix):
    """The project's own files ending in `suffix`: no tests, virtualenvs, node_modules."""
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and d != "tests"]
        for filename in filenames:
            if filename.endswith(suffix):
                yield Path(dirpath) / filename


def code_env_vars():
    """{variable: [where]} for what the code reads and the deployment templates set."""
    where = {}

    def add(name, path):
        where.setdefault(name, []).append(rel(path))

    for path in source_files(".py"):
        for name in python_env_reads(path.read_text(encoding="utf-8")):
            add(name, path)
    for suffix in (".mjs", ".js"):
        for path in source_files(suffix):
            if "static" in path.parts:
                continue  # built assets
            for name in re.findall(
                r"process\.env\.([A-Z][A-Z0-9_]*)", path.read_text(encoding="utf-8")
            ):
                add(name, path)
    deploy = [
        ROOT / "Containerfile",
        *(ROOT / "helm" / "dgbox" / "templates").rglob("*"),
        *(ROOT / "ansible" / "roles").glob("*/templates/*"),
    ]
    for path in deploy:
        if path.is_file():
            for name in re.findall(
                r"\b((?:DGBOX|AWS)_[A-Z0-9_]+)\b", path.read_text(encoding="utf-8")
            ):
                add(name, path)
    return where


def documented_env_vars():
    """Variables in the first column of the tables of docs/configuration.md."""
    found = set()
    for line in (DOCS / "configuration.md").read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            found |= {v for v in re.findall(r"`([^`]+)`", cells[1]) if VAR.match(v)}
    return found


def test_the_scanner_sees_each_kind_of_read():
    source = (
        'import os\nfrom environ import Env\nenv = Env()\nA = env("V_A", default=1)\n'
        'B = env.bool("V_B")\nC = os.environ.get("V_C")\nD = os.environ["V_D"]\n'
        'E = "V_E" in os.environ\nos.environ.setdefault("V_F", "x")\n'
        'G = os.getenv("V_G")\nos.environ["NOT_READ"] = "1"\nenv2 = {}\n'
        'H = env2.get("NOT_ENV")\n'
    )
    assert python_env_reads(source) == {"V_A", "V_B", "V_C", "V_D", "V_E", "V_F", "V_G"}


def test_every_variable_the_code_reads_is_documented():
    code, documented = code_env_vars(), documented_env_vars()
    assert "DGBOX_SECRET_KEY" in code and "DGBOX_EMBEDDED_S3_PORT" in code  # scanner works
    missing = {name: places for name, places in code.items() if name not in documented}
    assert not missing, "read but not in docs/configuration.md:\n" + "\n".join(
        f"{name} ({', '.join(sorted(set(places)))})" for name, places in sorted(missing.items())
    )


def test_every_documented_variable_is_read_somewhere():
    unused = documented_env_vars() - set(code_env_vars())
    assert not unused, f"in docs/configuration.md but read nowhere: {sorted(unused)}"


def settings_names():
    names = set()
    for path in (ROOT / "dgbox" / "settings").glob("*.py"):
        names |= set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", path.read_text(encoding="utf-8"), re.M))
    return names


def test_every_dgbox_variable_the_docs_name_exists():
    known = set(code_env_vars()) | settings_names()
    unknown = set()
    for md in doc_files():
        for name in re.findall(r"\bDGBOX_[A-Z0-9_]*[A-Z0-9]\b", md.read_text(encoding="utf-8")):
            if name not in known:
                unknown.add(f"{rel(md)}: {name}")
    assert not unknown, "no such variable or setting:\n" + "\n".join(sorted(unknown))


# --- Dependencies -----------------------------------------------------------------------------


def declared_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    for group in project.get("optional-dependencies", {}).values():
        names |= {canonicalize_name(Requirement(r).name) for r in group}
    package = json.loads((ROOT / "frontend" / "package.json").read_text(encoding="utf-8"))
    for key in ("dependencies", "devDependencies"):
        names |= {canonicalize_name(n) for n in package.get(key, {})}
    return names


def dependency_table():
    """Package names in backticks in the first column of docs/dependencies.md's tables."""
    names = set()
    for line in (DOCS / "dependencies.md").read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            names |= {
                canonicalize_name(n.split("[")[0]) for n in re.findall(r"`([^`]+)`", cells[1])
            }
    return names


def test_every_dependency_has_a_reason():
    missing = declared_dependencies() - dependency_table()
    assert not missing, f"dependencies without a line in docs/dependencies.md: {sorted(missing)}"


def test_the_dependency_table_lists_only_dependencies():
    extra = dependency_table() - declared_dependencies()
    assert not extra, f"docs/dependencies.md lists packages nothing declares: {sorted(extra)}"


# --- Habits files -----------------------------------------------------------------------------


def test_pre_commit_ruff_is_within_the_pyproject_range():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    rev = next(repo["rev"] for repo in config["repos"] if repo["repo"].endswith("/ruff-pre-commit"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    ruff = next(
        Requirement(r)
        for r in project["optional-dependencies"]["dev"]
        if Requirement(r).name == "ruff"
    )
    assert Version(rev.lstrip("v")) in ruff.specifier, (rev, str(ruff.specifier))
