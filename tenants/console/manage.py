"""What the console changes, from the browser: launching a tenant, its lifecycle (suspend,
resume, archive, back up now), the first administrator's invitation, and halting or
resuming a running rollout.

Every change is a POST (CSRF-protected), answered by a redirect with a message (post,
redirect, get); each calls one function of `actions`. Tenants outside the user's scope are
404 (`views.tenant_in_scope`). Destructive actions (`Action.destructive`) ask for the
password again when the last check is older than DGBOX_CONSOLE_REAUTH_MINUTES (`reauth`);
archiving also asks for the tenant's web address name typed again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tenants import access, lifecycle
from tenants.launch import LaunchError
from tenants.models import Rollout, RolloutStep, Tenant
from tenants.rollout import control

from . import actions, reauth
from .forms import ConfirmForm, LaunchForm
from .views import console_required, operator_required, tenant_in_scope


@console_required
def launch(request: HttpRequest) -> HttpResponse:
    """The launch form: every problem at once, next to its field; nothing created on error."""
    form = LaunchForm(request.POST or None, regions=access.regions_for_launch(request.user),
                      may_launch_regions=access.may_launch_regions(request.user))
    if request.method == "POST" and form.is_valid():
        launch_request = form.launch_request()
        if (launch_request.kind == Tenant.Kind.MUNICIPALITY and launch_request.parent
                and launch_request.parent not in {r.slug for r in form.regions}):
            raise Http404  # a region outside the user's scope does not exist for them
        try:
            launched = actions.launch(request.user, launch_request)
        except LaunchError as exc:
            form.add_launch_errors(exc)
        else:
            tenant = launched.result.tenant
            messages.success(request, _("%(name)s is launched at %(domain)s.") % {
                "name": tenant.name, "domain": launched.result.domain})
            if launched.e_mailed:
                messages.success(request, _("%(email)s has been sent a link to set their "
                                            "password.") % {"email": launched.result.admin_email})
            else:
                messages.error(request, _("The e-mail to %(email)s could not be sent: send the "
                                          "invitation again below.")
                               % {"email": launched.result.admin_email})
            return redirect("operator-tenant", slug=tenant.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "operator/launch.html", {
        "form": form, "region": access.region_of(request.user),
        "is_operator": access.is_operator(request.user)}, status=status)


@dataclass(frozen=True)
class Action:
    """An action on one tenant, as the console offers it."""

    label: Any
    run: Callable[[Any, Tenant], Any]
    allowed: Callable[[Tenant], bool]
    destructive: bool = False  # asks for the password again if the last check is old
    confirm_slug: bool = False  # asks for the slug typed again
    explain: Any = ""


def _done(action: str, tenant: Tenant, result: Any) -> str:
    if action == "backup":
        return _("Backed up: %(key)s, %(size)s bytes, %(files)s files.") % {
            "key": result.key, "size": result.size, "files": result.files}
    if action == "resend-invitation":
        return _("A new link to set a password has been sent to %(email)s; earlier links no "
                 "longer work.") % {"email": result}
    if action == "revoke-invitation":
        return _("The invitation of %(email)s is revoked: its links no longer work.") % {
            "email": result}
    return {"suspend": _("%(name)s is suspended: its site answers with a maintenance page."),
            "resume": _("%(name)s is serving its site again."),
            "archive": _("%(name)s is archived: its site answers “no longer available”."),
            }[action] % {"name": tenant.name}


ACTIONS: dict[str, Action] = {
    "suspend": Action(
        gettext_lazy("Suspend"), actions.suspend, lambda t: t.status == Tenant.Status.ACTIVE,
        destructive=True,
        explain=gettext_lazy("Every page of the site, its admin included, answers with a "
                             "maintenance page until it is resumed. Nothing is deleted.")),
    "resume": Action(gettext_lazy("Resume"), actions.resume,
                     lambda t: t.status == Tenant.Status.SUSPENDED),
    "archive": Action(
        gettext_lazy("Archive"), actions.archive,
        lambda t: t.status in (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED),
        destructive=True, confirm_slug=True,
        explain=gettext_lazy("The site answers “no longer available” for good. Its data and "
                             "files are kept; only an operator can delete it, from the "
                             "command line.")),
    "backup": Action(gettext_lazy("Back up now"), actions.back_up,
                     lambda t: t.status != Tenant.Status.PROVISIONING),
    "resend-invitation": Action(gettext_lazy("Send the invitation again"),
                                actions.resend_invitation,
                                lambda t: t.status != Tenant.Status.ARCHIVED),
    "revoke-invitation": Action(
        gettext_lazy("Revoke the invitation"), actions.revoke_invitation, lambda t: True,
        destructive=True,
        explain=gettext_lazy("The links sent to the first administrator stop working and "
                             "their account is switched off until an invitation is sent "
                             "again.")),
}


@console_required
def tenant_action(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    """GET: the confirmation page; POST: do it, then back to the tenant with a message."""
    tenant = tenant_in_scope(request, slug)
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    back = reverse("operator-tenant", kwargs={"slug": tenant.slug})
    needs_password = spec.destructive and not reauth.checked_recently(request)
    form = ConfirmForm(request.POST if request.method == "POST" else None, request=request,
                       slug=tenant.slug, needs_slug=spec.confirm_slug,
                       needs_password=needs_password)
    if request.method == "POST":
        if not spec.allowed(tenant):
            messages.error(request, _("This cannot be done now: %(name)s is %(status)s.") % {
                "name": tenant.name, "status": tenant.get_status_display()})
            return HttpResponseRedirect(back)
        if form.is_valid():
            if needs_password:
                reauth.mark_checked(request)
            try:
                result = spec.run(request.user, tenant)
            except (lifecycle.LifecycleError, actions.InvitationError) as exc:
                text = (str(exc) if isinstance(exc, actions.InvitationError)
                        else _("This cannot be done now: %(name)s is %(status)s.") % {
                            "name": tenant.name, "status": tenant.get_status_display()})
                messages.error(request, text)
            except (lifecycle.BackupError, OSError) as exc:
                messages.error(request, _("The backup failed and nothing was changed: "
                                          "%(error)s") % {"error": exc})
            else:
                tenant.refresh_from_db()
                messages.success(request, _done(action, tenant, result))
            return HttpResponseRedirect(back)
    return render(request, "operator/confirm.html", {
        "tenant": tenant, "action": action, "spec": spec, "form": form,
        "allowed": spec.allowed(tenant)}, status=400 if request.method == "POST" else 200)


# --- Rollouts ----------------------------------------------------------------------------------


@operator_required
def rollout_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live figures the rollout page polls (static/operator/rollout.js)."""
    rollout = get_object_or_404(Rollout, pk=pk)
    data = control.progress(rollout)
    data["counts_labels"] = {s: str(label) for s, label in RolloutStep.Status.choices}
    return JsonResponse(data)


@require_POST
@operator_required
def rollout_halt(request: HttpRequest, pk: int) -> HttpResponse:
    return _control(request, pk, actions.halt_rollout, _(
        "Rollout %(id)s is halted: tenants being migrated finish, no new one starts until "
        "you resume it."))


@require_POST
@operator_required
def rollout_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _control(request, pk, actions.resume_rollout, _("Rollout %(id)s carries on."))


def _control(request: HttpRequest, pk: int, run: Callable[[Any, int], None],
             done: str) -> HttpResponse:
    get_object_or_404(Rollout, pk=pk)
    try:
        run(request.user, pk)
    except control.ControlError as exc:
        messages.error(request, {
            "not_running": _("Rollout %(id)s is not running: only a running rollout can be "
                             "halted or resumed."),
            "already_halted": _("Rollout %(id)s is already halted."),
            "not_halted": _("Rollout %(id)s is not halted."),
        }.get(exc.code, str(exc)) % {"id": pk})
    else:
        messages.success(request, done % {"id": pk})
    return redirect("operator-rollout", pk=pk)

