"""The session middleware, and two middlewares after authentication and messages
(dgbox/settings/base.py).

`SessionMiddleware`: django-qsessions' (each session row keeps its browser and address, for
*Your sessions*), with the address from `infra.clientip`, the one client-address function
every limit and the audit trail use, not the raw `REMOTE_ADDR` (behind proxies, the proxy's).

`StaffSessionMiddleware`: a signed-in session (only staff and operators sign in; citizens'
drafts live in anonymous sessions and are never touched) ends after
DGBOX_STAFF_IDLE_MINUTES without a request and DGBOX_STAFF_SESSION_HOURS after signing in,
whatever happens in between. Ending it is Django's logout: the session row is deleted on the
server, so the old cookie is worthless. Background polls of the admin (the page editor's
"who else is editing" ping) do not count as activity.

`TwoFactorMiddleware`: a signed-in user who has an authenticator app must give a code (or a
recovery code) before any page but signing in or out; one who must have a second factor
(`policy.requires_two_factor`) and has none is sent to enrol first. Off only where
DGBOX_TWO_FACTOR_ENFORCED is False (the test settings, for tests of other things).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from qsessions.middleware import SessionMiddleware as QSessionMiddleware

from infra import clientip

from . import devices, surfaces
from .policy import requires_two_factor

SIGNED_IN_AT = "dgbox_signed_in_at"
SEEN_AT = "dgbox_seen_at"
PASSIVE_NAMESPACES = {"wagtailadmin_editing_sessions"}


class SessionMiddleware(QSessionMiddleware):
    """django-qsessions' middleware, the session's address read by `infra.clientip`."""

    def process_request(self, request: HttpRequest) -> None:
        request.session = self.SessionStore(
            ip=clientip.client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            session_key=request.COOKIES.get(settings.SESSION_COOKIE_NAME),
        )


@receiver(user_logged_in, dispatch_uid="dgbox-staff-session-start")
def _session_started(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[SIGNED_IN_AT] = now
        request.session[SEEN_AT] = now


def _match(request: HttpRequest) -> tuple[str, list[str]]:
    try:
        match = resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        return "", []
    return match.url_name or "", list(match.namespaces)


class StaffSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    @staticmethod
    def _check(request: HttpRequest) -> None:
        session = request.session
        now = time.time()
        signed_in = float(session.setdefault(SIGNED_IN_AT, now))
        seen = float(session.get(SEEN_AT, now))
        idle = settings.DGBOX_STAFF_IDLE_MINUTES * 60
        lifetime = settings.DGBOX_STAFF_SESSION_HOURS * 3600
        if now - seen > idle or now - signed_in > lifetime:
            reason = (_("You were signed out after %(minutes)s minutes without activity. "
                        "Sign in again.") % {"minutes": settings.DGBOX_STAFF_IDLE_MINUTES}
                      if now - seen > idle else
                      _("You were signed out: a session lasts at most %(hours)s hours. "
                        "Sign in again.") % {"hours": settings.DGBOX_STAFF_SESSION_HOURS})
            logout(request)
            messages.info(request, reason)
            return
        _name, namespaces = _match(request)
        if not PASSIVE_NAMESPACES.intersection(namespaces):
            session[SEEN_AT] = now


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DGBOX_TWO_FACTOR_ENFORCED:
            detour = self._detour(request)
            if detour is not None:
                return detour
        return self.get_response(request)

    @staticmethod
    def _detour(request: HttpRequest) -> HttpResponse | None:
        user: Any = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        if request.path_info.startswith(settings.STATIC_URL):
            return None
        surface = surfaces.current()
        name, _namespaces = _match(request)
        if name in surface.open_names:
            return None
        if devices.has_second_factor(user):
            target = surface.verify
        elif requires_two_factor(user):
            target = surface.enrol
        else:
            return None
        if name == target:
            return None
        urlconf = getattr(request, "urlconf", None)
        return redirect_to_login(request.get_full_path(), reverse(target, urlconf=urlconf))
