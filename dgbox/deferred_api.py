"""Wagtail's API v3 left out of `dgbox` fleet commands, to start them in well under a second.

Wagtail 8's images, documents, snippets, locales and redirects apps register routers with its
v3 API in their `ready()`: importing it loads django-ninja, pydantic schemas for every page
model and, through `wagtail.contrib.redirects.api`, REST framework: 0.4-0.9 s of CPU in every
process, a quarter of `django.setup()`. dgbox never serves API v3 (its open API is v2, routed in
dgbox/urls_tenant.py), and a fleet command (`dgbox rollout`, `dgbox tenant`, ...) serves no
request from outside at all. So for those commands, and only those, `dgbox/cli.py` installs
`defer_wagtail_api_v3()` before Django starts: the modules are replaced with stand-ins that
accept exactly the registrations `ready()` makes and refuse anything else with an error saying
why. Web, worker and test processes import the real modules as before.
"""

import importlib.abc
import importlib.machinery
import re
import sys
import types
from collections.abc import Sequence

from django.core.exceptions import ImproperlyConfigured

# The modules `ready()` imports (and their packages) and nothing dgbox uses: dgbox's API v2
# views come from wagtail.api.v2, which stays real.
DEFERRED_MODULES = re.compile(
    r"^wagtail\.(api\.v3|(images|documents|snippets|locales)\.api\.v3|contrib\.redirects\.api)"
    r"(\..+)?$"
)
# What the apps' ready() reads from those modules: `api.add_router(prefix, router)`,
# `register_content_types()`, and `router` handed to add_router.
ACCEPTED = frozenset({"api", "router", "add_router", "register_content_types"})


class DeferredAPIError(ImproperlyConfigured):
    """Something in a fleet command used Wagtail's API v3, which such commands do not load."""


class _StandIn:
    """Takes the place of one name of a deferred module: accepts registrations, nothing else."""

    def __init__(self, qualname: str):
        self._qualname = qualname

    def __getattr__(self, name: str) -> "_StandIn":
        if name.startswith("__") or name not in ACCEPTED:
            raise _refusal(f"{self._qualname}.{name}")
        return _StandIn(f"{self._qualname}.{name}")

    def __call__(self, *_args: object, **_kwargs: object) -> None:
        """A registration: nothing to register, as nothing serves the API in this process."""


def _refusal(qualname: str) -> DeferredAPIError:
    return DeferredAPIError(
        f"{qualname} is Wagtail's API v3, which `dgbox` fleet commands do not load "
        "(dgbox/deferred_api.py); run this code in a web or worker process instead.")


class _StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> _StandIn:
        if name.startswith("__") or name not in ACCEPTED:
            raise AttributeError(str(_refusal(f"{self.__name__}.{name}")))
        return _StandIn(f"{self.__name__}.{name}")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not DEFERRED_MODULES.match(fullname):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []  # a package: its submodules come through this finder too
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the stand-in has no code."""


def defer_wagtail_api_v3() -> None:
    """Before `django.setup()`: the modules above become stand-ins in this process."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
