"""Production: every `manage.py check --deploy` warning answered."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env, public_media_storage

DEBUG = False
# Webhooks go to https on public addresses only, whatever the environment says (SSRF).
DGBOX_WEBHOOKS_ALLOW_LOCAL = False
if SECRET_KEY.startswith("dgbox-development") or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "Set DGBOX_SECRET_KEY to a random value of at least 50 characters, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
    )

# TLS is terminated at the ingress / load balancer, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DGBOX_SSL_REDIRECT", default=True)
# Health probes come over plain HTTP from inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DGBOX_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DGBOX_HSTS_PRELOAD", default=True)
# Public media on S3 unless told otherwise: several web pods share nothing but S3 (an endpoint
# left empty is AWS S3 itself, so base.py's guess from DGBOX_S3_ENDPOINT_URL does not apply).
DGBOX_PUBLIC_MEDIA = env("DGBOX_PUBLIC_MEDIA", default="s3")
STORAGES = {
    **STORAGES,  # noqa: F405 - the tenant-private S3 storage among them
    "default": public_media_storage(DGBOX_PUBLIC_MEDIA),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WAGTAILADMIN_BASE_URL = f"https://{env('DGBOX_BASE_DOMAIN', default='localhost')}"
DGBOX_SITE_SCHEME = env("DGBOX_SITE_SCHEME", default="https")
