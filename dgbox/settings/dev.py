"""Local development and `make demo`."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DGBOX_DEBUG", default=True)
DGBOX_SITE_PORT = env.int("DGBOX_SITE_PORT", default=8000)

# Demo content and the `dgbox demo` command: never installed in production.
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
