"""Test settings: fast hasher, no outgoing mail, deterministic."""

import os
import sys
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, cache_settings, env, public_media_storage

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests use a per-process cache so each run starts empty; the worker tests talk to Redis
# through Celery only (tests/faults/ points the caches at a Redis of their own).
CACHES = cache_settings("", 0)
# Tasks run in-process unless a test starts a real worker (tests/conftest.py: celery_worker).
CELERY_TASK_ALWAYS_EAGER = env.bool("DGBOX_CELERY_EAGER", default=True)

# The second factor is tested where it is the subject (tests/test_two_factor.py switches it on);
# the other tests sign staff in with a password alone.
DGBOX_TWO_FACTOR_ENFORCED = False
# Tests read the usage they just recorded; the console cache has its own test.
DGBOX_CONSOLE_USAGE_CACHE_SECONDS = 0
DGBOX_CONSOLE_KPI_CACHE_SECONDS = 0
WHITENOISE_USE_FINDERS = True
# Tenants launched and committed in a run (session tenants, browser tests) must not grow the
# spare pool past two: each spare is 0.5 s of DDL (tests/test_launch.py tests the growth).
DGBOX_SPARE_SCHEMAS_MAX = 2
# Every request reads the tenants' change notice, so a change made by an earlier test is seen
# by the next request, not by whichever request passes the interval (query counts stay
# deterministic); tests/test_routing_cache.py tests the interval itself.
DGBOX_TENANT_NOTICE_SECONDS = 0
# The webhook tests run their receiver on 127.0.0.1 over plain http.
DGBOX_WEBHOOKS_ALLOW_LOCAL = True
WHITENOISE_AUTOREFRESH = True
MEDIA_ROOT = STATE_DIR / "test-media"  # noqa: F405
# Public media on the run's S3 bucket, as in production (tests of the local fallback switch it).
DGBOX_PUBLIC_MEDIA = "s3"
STORAGES = {**STORAGES, "default": public_media_storage("s3")}  # noqa: F405
# A test database per run: concurrent runs on one server (a developer's and a helper's, or
# two checkouts) never drop each other's database half-way.
DATABASES["default"]["TEST"] = {"NAME": f"test_dgbox_{os.getpid()}"}
# A bucket per run on the shared loopback S3 server, for the same reason; the run's Celery
# worker is handed it in DGBOX_S3_TEST_BUCKET. The S3 endpoint comes from DGBOX_S3_ENDPOINT_URL
# (`make test` exports the loopback SeaweedFS); run as plain `pytest`, tests/conftest.py starts
# or reuses that server (infra.localservices.ensure_s3) and creates and deletes the bucket.
DGBOX_S3_BUCKET = env("DGBOX_S3_TEST_BUCKET", default=f"test-dgbox-{os.getpid()}")

# --- Rollout tests (tests/test_rollout.py; owned by the rollout work) ---------------------------
# A tenant app that exists only in tests, whose migrations the rollout tests swap to ship "a new
# release" (tests/rollout_fixture/). DGBOX_TEST_ROLLOUT_MIGRATIONS picks its migration module,
# so a `dgbox rollout run` subprocess started by a test sees the same migrations as the test.
# tests.rollout_fixture lives in the source tree, not in the installed packages: its root goes
# on the path also for a `dgbox` console script (whose path starts at the venv's bin/). Celery's
# Django fix-up used to put the current folder there in every process; Celery is now loaded
# only when a process uses it (dgbox/__init__.py).
_source_root = str(Path(__file__).resolve().parents[2])
if _source_root not in sys.path:
    sys.path.append(_source_root)
TENANT_APPS = [*TENANT_APPS, "tests.rollout_fixture"]  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "tests.rollout_fixture", "demo"]  # noqa: F405
MIGRATION_MODULES = {"rollout_fixture": env("DGBOX_TEST_ROLLOUT_MIGRATIONS",
                                            default="tests.rollout_fixture.migrations")}
