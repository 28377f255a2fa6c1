"""Error reporting through sentry-sdk, switched on by DGBOX_SENTRY_DSN (dgbox/settings/base.py
calls `init` only when it is set; without it sentry-sdk is not even imported).

What reaches Sentry, and what never does:

- Django and Celery integrations: an unhandled exception of a request or a task, and ERROR
  log lines (sentry-sdk's default logging integration). No performance tracing.
- Every event is tagged with the tenant's schema (`schema`, "-" outside a tenant) and the
  request id (`request_id`, django-guid's, the reference the error page shows), read when
  the event is made, in the thread that made it.
- No personal data: sentry-sdk's default of sending none (no user, no client address, no
  cookies; `send_default_pii` is left unset: sentry-sdk 2.x deprecates it, and unset it means
  False), the body is never read (`max_request_body_size="never"`), frames carry no local
  variables (they hold citizens' answers), and `before_send` drops what is left that could carry it:
  the request's body, cookies and query string, identifying headers, the query strings of
  outgoing HTTP calls in breadcrumbs, and the request object put on log records.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django_guid.context import guid

from dgbox.logfilters import current_schema

#: Request headers dropped from every event (any case), whatever sentry-sdk already drops.
PRIVATE_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization",
                             "x-forwarded-for", "x-real-ip", "forwarded", "x-csrftoken"})
#: Request fields dropped from every event.
PRIVATE_REQUEST_FIELDS = ("data", "cookies", "query_string", "env")


def release() -> str:
    try:
        return f"dgbox@{version('dgbox')}"
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "dgbox@unknown"


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    tags = event.setdefault("tags", {})
    tags["schema"] = current_schema()
    tags["request_id"] = guid.get() or "-"
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        for field in PRIVATE_REQUEST_FIELDS:
            request.pop(field, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {name: value for name, value in headers.items()
                                  if name.lower() not in PRIVATE_HEADERS}
    extra = event.get("extra")
    if isinstance(extra, dict):
        extra.pop("request", None)  # django.request's log records carry the request
    for crumb in (event.get("breadcrumbs") or {}).get("values", []):
        data = crumb.get("data")
        if isinstance(data, dict):
            data.pop("http.query", None)
            data.pop("http.fragment", None)
    return event


def init(dsn: str, environment: str) -> None:
    """Start sentry-sdk for this process (web, worker, CLI)."""
    import sentry_sdk  # noqa: PLC0415 - imported only when a DSN is set
    from sentry_sdk.integrations.celery import CeleryIntegration  # noqa: PLC0415
    from sentry_sdk.integrations.django import DjangoIntegration  # noqa: PLC0415

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release(),
        integrations=[DjangoIntegration(), CeleryIntegration()],
        max_request_body_size="never",
        include_local_variables=False,
        before_send=before_send,  # type: ignore[arg-type]
    )
