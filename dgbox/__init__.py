"""dgbox: Digital Government in a Box.

The Celery application (dgbox/celery.py) is loaded with Celery itself, not with this package.
Django's usual recipe imports it here, so that every process that imports the settings has it;
but importing Celery (kombu, billiard, click, its YAML serialiser) is a tenth of a second of
CPU that a `dgbox tenant list` or a no-op `dgbox rollout run` never uses (docs/benchmarks.md,
CLI start-up). What the recipe guarantees holds in another way: a process can only send or run
a task after importing Celery (`shared_task` comes from it), and `_CeleryWithTheApp` below
loads the app right after the first `import celery`, so a task never meets Celery's unconfigured
fallback app (which would send it to a broker nobody reads). A process that imported Celery
before this package (the `celery` command, which then finds the app itself with `-A dgbox`)
gets the app at once, as before. `dgbox.celery_app` still names the app, loaded on first use.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = ["celery_app"]

APP_MODULE = "dgbox.celery"


class _CeleryWithTheApp(importlib.abc.MetaPathFinder):
    """Finds the `celery` package as usual, and loads dgbox's app once it has been executed."""

    def find_spec(self, fullname: str, path: Any = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "celery":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            importlib.import_module(APP_MODULE)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _load_the_app_with_celery() -> None:
    if "celery" in sys.modules:
        importlib.import_module(APP_MODULE)
    elif not any(isinstance(finder, _CeleryWithTheApp) for finder in sys.meta_path):
        sys.meta_path.insert(0, _CeleryWithTheApp())


def __getattr__(name: str) -> Any:
    if name == "celery_app":
        return importlib.import_module(APP_MODULE).app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_load_the_app_with_celery()
