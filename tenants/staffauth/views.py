"""The second-factor and session pages, the same for the Wagtail admin and the operator
console: each surface (surfaces.py) gives the templates and the URL names. The admin's URLs
are registered by cms, the console's in dgbox/urls_public.py."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from . import devices, sessions
from .forms import CodeForm, EnrolForm, PasswordCheckForm
from .policy import requires_two_factor
from .surfaces import Surface


def _next(request: HttpRequest, surface: Surface) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return reverse(surface.home)


def _page(request: HttpRequest, surface: Surface, template: str, context: dict[str, Any],
          status: int = 200) -> HttpResponse:
    return render(request, surface.templates + template, {
        "surface": surface, "next": _next(request, surface), **context}, status=status)


def _signed_in(request: HttpRequest, surface: Surface) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse(surface.login))
    return None


@never_cache
@sensitive_post_parameters("code")
def verify(request: HttpRequest, surface: Surface) -> HttpResponse:
    """Second step of signing in: a code from the app, or a recovery code."""
    if (away := _signed_in(request, surface)) is not None:
        return away
    user: Any = request.user
    if not devices.has_second_factor(user):
        return HttpResponseRedirect(reverse(surface.enrol) + "?" + request.GET.urlencode())
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if devices.verify(request, form.cleaned_data["code"]):
            left = devices.recovery_codes_left(user)
            if left <= 3:
                messages.warning(request, ngettext(
                    "You have %(count)s recovery code left: make new ones under "
                    "Two-factor authentication.",
                    "You have %(count)s recovery codes left: make new ones under "
                    "Two-factor authentication.", left) % {"count": left})
            return HttpResponseRedirect(_next(request, surface))
        form.add_error("code", _("That code is wrong or has expired. Enter the code your "
                                 "app shows now, or a recovery code you have not used."))
    return _page(request, surface, "verify.html", {"form": form},
                 status=400 if form.errors else 200)


@never_cache
@sensitive_post_parameters("code")
def enrol(request: HttpRequest, surface: Surface) -> HttpResponse:
    """Add an authenticator app: scan the QR code, type the code it shows."""
    if (away := _signed_in(request, surface)) is not None:
        return away
    user: Any = request.user
    if devices.has_second_factor(user) and not user.is_verified():
        return redirect_to_login(_next(request, surface), reverse(surface.verify))
    device = devices.pending_device(user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = devices.confirm(request, device, form.cleaned_data["code"])
        if codes is not None:
            return _page(request, surface, "codes.html", {"codes": codes, "enrolled": True})
        form.add_error("code", _("That code is wrong or has expired. Enter the code the app "
                                 "shows now."))
    return _page(request, surface, "enrol.html", {
        "form": form, "qr_svg": devices.qr_svg(device), "secret": devices.secret_text(device),
        "required": requires_two_factor(user)}, status=400 if form.errors else 200)


@never_cache
@sensitive_post_parameters("password")
def manage(request: HttpRequest, surface: Surface) -> HttpResponse:
    """The user's authenticator apps and recovery codes: make new codes, remove an app.
    Both ask for the password again."""
    if (away := _signed_in(request, surface)) is not None:
        return away
    user: Any = request.user
    form = PasswordCheckForm(user, request.POST or None)
    action = request.POST.get("action", "")
    if request.method == "POST" and form.is_valid():
        if action == "codes" and devices.has_second_factor(user):
            return _page(request, surface, "codes.html", {
                "codes": devices.new_recovery_codes(user), "enrolled": False})
        if action == "remove":
            try:
                device_id = int(request.POST.get("device", ""))
            except ValueError:
                device_id = 0
            if devices.remove(user, device_id):
                messages.success(request, _("The authenticator app is removed."))
                return HttpResponseRedirect(reverse(surface.manage))
        form.add_error(None, _("Choose what to change from this page."))
    return _page(request, surface, "manage.html", {
        "form": form, "action": action, "devices": devices.authenticators(user),
        "codes_left": devices.recovery_codes_left(user),
        "required": requires_two_factor(user),
        "enforced": settings.DGBOX_TWO_FACTOR_ENFORCED,
        "page_title": _("Two-factor authentication"), "header_icon": "lock",
    }, status=400 if form.errors else 200)


@never_cache
def session_list(request: HttpRequest, surface: Surface) -> HttpResponse:
    """The user's open sessions (browser, address, last activity); end one or all others."""
    if (away := _signed_in(request, surface)) is not None:
        return away
    current = request.session.session_key
    if request.method == "POST":
        if request.POST.get("session") == "others":
            count = sessions.end_other_sessions(request.user, current)
            messages.success(request, _("Other sessions ended: %(count)s.") % {"count": count})
        elif sessions.end_session(request.user, request.POST.get("session", ""), current):
            messages.success(request, _("The session is ended: that browser is signed out."))
        else:
            messages.error(request, _("That session had already ended."))
        return HttpResponseRedirect(reverse(surface.sessions))
    return _page(request, surface, "sessions.html", {
        "sessions": sessions.open_sessions(request.user, current),
        "page_title": _("Your sessions"), "header_icon": "desktop"})
