"""Settings of bench/fleet_scale.py and of every process it starts (web worker, `dgbox rollout
run`, `dgbox tenant backup|restore`): dgbox's development settings, production-like (DEBUG
off), plus the test-only app tests/rollout_fixture whose migration module the benchmark
switches to add one trivial migration (DGBOX_TEST_ROLLOUT_MIGRATIONS, as the rollout tests do)."""

import os

from dgbox.settings.dev import *  # noqa: F403
from dgbox.settings.dev import INSTALLED_APPS, TENANT_APPS

DEBUG = False
# The console home is timed with a signed-in operator (Django's test client, no second factor):
# what is measured is the page, not the sign-in.
DGBOX_TWO_FACTOR_ENFORCED = False
TENANT_APPS = [*TENANT_APPS, "tests.rollout_fixture"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.rollout_fixture"]
MIGRATION_MODULES = {
    "rollout_fixture": os.environ.get("DGBOX_TEST_ROLLOUT_MIGRATIONS",
                                      "tests.rollout_fixture.migrations"),
}
