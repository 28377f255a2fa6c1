"""The import contracts of pyproject.toml (`[tool.importlinter]`) hold: no import cycles in
`tenants` at any depth, its layers, and `tenants` below `cms` and `services`."""

from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_import_contracts_are_kept(capsys):
    exit_code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    assert exit_code == 0, capsys.readouterr().out
