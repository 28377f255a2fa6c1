"""Settings of the plain-Django baseline for bench/submit_step.py: one app, one model, one
view that validates the building-permit answers with a Django form and saves them to a row.

Django's own defaults, as `startproject` writes them (its middleware, database sessions, CSRF),
on the same PostgreSQL server as dgbox and a database of its own (DATABASE_URL), with
persistent connections like dgbox's. No multi-tenancy, no Wagtail, no workflow, outbox or
notifications: what a submission costs in Django itself, the floor dgbox is measured against.
"""

import environ

env = environ.Env()
SECRET_KEY = "plain-submit-bench-only"  # noqa: S105 - a loopback benchmark server # nosec B105
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "bench.plain_submit",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench.plain_submit.urls"
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 300
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
