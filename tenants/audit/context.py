"""Who is acting, from where, in which request: what `record()` stamps on every event.

`AuditContextMiddleware` keeps the current request in a context variable for the length of
the request, so code deep below a view (the tenant lifecycle, the case engine) records the
signed-in person without being passed them; the request's id (`X-Request-ID`) is
django-guid's (dgbox/headers.py), the one on its log lines and error pages. Outside a
request (the CLI, Celery) the actor is the system account that runs the process.
"""

import getpass
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django_guid.context import guid

from infra import clientip

_request: ContextVar[HttpRequest | None] = ContextVar("dgbox_audit_request", default=None)


@dataclass(frozen=True)
class Actor:
    """Who did something: a user's id and display name, or a system account (id None)."""

    id: int | None
    display: str


def client_address(request: HttpRequest) -> str | None:
    """The client's address as every limit counts it (`infra.clientip`: `REMOTE_ADDR`, or
    what the configured trusted proxies appended), None when it is not an IP address."""
    return clientip.client_ip(request)


def current_request() -> HttpRequest | None:
    return _request.get()


def request_id(request: HttpRequest | None) -> str:
    """The request's id (django-guid's, on every log line and error page of the request)."""
    return str(guid.get() or "") if request is not None else ""


def user_actor(user: Any) -> Actor:
    """An Actor for a user (or None/anonymous)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Actor(None, "")
    name = (user.get_full_name() or "").strip()
    username = user.get_username()
    return Actor(int(user.pk), f"{name} <{username}>" if name else username)


def system_actor() -> Actor:
    """The account running a command or a worker, e.g. `system: deploy@host`."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        who = "uid?"
    return Actor(None, f"system: {who}@{socket.gethostname()}")


def current_actor() -> Actor:
    """The signed-in user of the current request, else the system account."""
    request = current_request()
    if request is None:
        return system_actor()
    actor = user_actor(getattr(request, "user", None))
    return actor if actor.id is not None else Actor(None, "")


@contextmanager
def acting(request: HttpRequest) -> Iterator[None]:
    """Make `request` the current one (the middleware does this for every request)."""
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


class AuditContextMiddleware:
    """Makes each request the current one for `record()`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting(request):
            response = self.get_response(request)
        return response
