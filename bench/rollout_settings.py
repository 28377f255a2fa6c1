"""Settings of the processes bench/rollout.py starts: dgbox's development settings with DEBUG
off (as in production), plus the test-only app tests/rollout_fixture.

Every side of the benchmark is a whole process (`dgbox rollout run`, django-tenants'
`migrate_schemas`), so the release it sees has to come from its environment rather than from
the benchmark's own memory: DGBOX_BENCH_MIGRATIONS names rollout_fixture's migration module
(the first release, or the one with a pending migration) and DGBOX_BENCH_WORKERS the stock
multiprocessing executor's processes. Only the benchmark reads these two variables.
"""

import os

from dgbox.settings.dev import *  # noqa: F403
from dgbox.settings.dev import INSTALLED_APPS, TENANT_APPS

DEBUG = False
TENANT_APPS = [*TENANT_APPS, "tests.rollout_fixture"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.rollout_fixture"]
MIGRATION_MODULES = {
    "rollout_fixture": os.environ.get("DGBOX_BENCH_MIGRATIONS", "tests.rollout_fixture.migrations"),
}
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(os.environ.get("DGBOX_BENCH_WORKERS", "2"))
