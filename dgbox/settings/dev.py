"""Local development and `make demo`."""

from .base import *  # noqa: F403
from .base import STATE_DIR, env

DEBUG = env.bool("DGBOX_DEBUG", default=True)

# `dgbox demo --port N` writes N here, so that every dgbox command run beside the demo (e.g.
# `dgbox tenant create` in another terminal) prints links to the port the demo serves on.
DGBOX_DEMO_PORT_FILE = STATE_DIR / "demo-port"


def _demo_port(default: int = 8000) -> int:
    try:
        return int(DGBOX_DEMO_PORT_FILE.read_text().strip())
    except (OSError, ValueError):
        return default


# DGBOX_SITE_PORT (see base.py): in development, the demo's port (8000 before any demo).
DGBOX_SITE_PORT = env.int("DGBOX_SITE_PORT", default=_demo_port())

# Demo content and the `dgbox demo` command: never installed in production.
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
