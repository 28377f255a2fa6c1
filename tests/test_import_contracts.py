"""The import contracts of pyproject.toml (`[tool.importlinter]`) hold: no import cycles in
`tenants` at any depth, its layers, and `tenants` below `cms` and `services`.

Run as its own process: import-linter's command configures logging (disabling the loggers
that exist), which would silence the loggers later tests read with caplog."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--config", "pyproject.toml", "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
