"""Test settings: fast hasher, no outgoing mail, deterministic."""

import os

from .base import *  # noqa: F403
from .base import DATABASES, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests use a per-process cache so each run starts empty; the worker tests talk to Redis
# through Celery only.
CACHES = {"default": {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "KEY_FUNCTION": "django_tenants.cache.make_key",
    "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
}}
# Tasks run in-process unless a test starts a real worker (tests/conftest.py: celery_worker).
CELERY_TASK_ALWAYS_EAGER = env.bool("DGBOX_CELERY_EAGER", default=True)

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
MEDIA_ROOT = STATE_DIR / "test-media"  # noqa: F405
# A test database per run: concurrent runs on one server (a developer's and a helper's, or
# two checkouts) never drop each other's database half-way.
DATABASES["default"]["TEST"] = {"NAME": f"test_dgbox_{os.getpid()}"}
# A bucket per run on the shared loopback S3 server, for the same reason.
DGBOX_S3_BUCKET = f"test-dgbox-{os.getpid()}"
