"""What the console changes: one small function per action, each taking the person acting.

Views call these and nothing else to change a tenant; each is recorded in the platform's
audit trail (by the lifecycle service it calls, or here). Each function uses the same
services as the CLI: launches go through `tenants.launch.launch_tenant`, status changes
through `tenants.lifecycle`.

The first administrator's invitation: launching makes them a superuser of the new tenant's
schema without a password; the console e-mails them the one-time link to set one (Django's
password-reset token, valid PASSWORD_RESET_TIMEOUT, spent once the password is set). Sending
it again replaces the password marker, so only the newest link works; revoking does the same
and deactivates the account until an invitation is sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, override
from django_tenants.utils import tenant_context

from tenants import lifecycle
from tenants.addresses import site_url
from tenants.audit.models import Kind
from tenants.audit.service import record
from tenants.launch import LaunchRequest, LaunchResult, launch_tenant
from tenants.models import Tenant
from tenants.rollout import control
from tenants.staff import set_password_path

log = logging.getLogger(__name__)


class InvitationError(Exception):
    """The invitation cannot be sent or revoked now; says why in the reader's language."""


@dataclass
class Launched:
    result: LaunchResult
    e_mailed: bool


def _invitation_mail(tenant: Tenant, email: str, link: str) -> None:
    base = site_url(tenant.primary_domain or "")
    days = settings.PASSWORD_RESET_TIMEOUT // (24 * 3600)
    with override(tenant.default_language):
        subject = _("You are the administrator of %(site)s") % {"site": tenant.name}
        body = "\n".join([
            _("Hello,"), "",
            _("%(site)s now has its own site on the shared digital government platform, and "
              "you are its first administrator.") % {"site": tenant.name}, "",
            ngettext("Set your password with this link (it works once, for %(days)s day):",
                     "Set your password with this link (it works once, for %(days)s days):",
                     days) % {"days": days},
            link, "",
            _("Then sign in at %(url)s with your e-mail address %(email)s.")
            % {"url": f"{base}/admin/", "email": email}, "",
            _("If you did not expect this e-mail, ignore it: nothing happens until the "
              "password is set."),
        ])
    send_mail(subject, body, None, [email])


def launch(actor: Any, request: LaunchRequest) -> Launched:
    """Launch through the CLI's service, then e-mail the first administrator their link.
    Raises LaunchError (nothing created) like the CLI. A mail server that refuses leaves the
    tenant launched: the invitation can be sent again from its page."""
    result = launch_tenant(request)
    try:
        _invitation_mail(result.tenant, result.admin_email, result.set_password_url)
    except Exception:
        log.exception("Launched %s, but the invitation to %s was not sent",
                      result.tenant.slug, result.admin_email)
        return Launched(result, e_mailed=False)
    return Launched(result, e_mailed=True)


def suspend(actor: Any, tenant: Tenant) -> Tenant:
    return lifecycle.suspend(tenant.slug)


def resume(actor: Any, tenant: Tenant) -> Tenant:
    return lifecycle.resume(tenant.slug)


def archive(actor: Any, tenant: Tenant) -> Tenant:
    return lifecycle.archive(tenant.slug)


def back_up(actor: Any, tenant: Tenant) -> lifecycle.BackupResult:
    """A backup now, to the bucket (as `dgbox tenant backup SLUG`)."""
    return lifecycle.backup_tenant(tenant.slug)


def first_administrator(tenant: Tenant) -> dict[str, Any] | None:
    """The tenant's first administrator (its oldest superuser) and whether their invitation
    is still open (no password set, never signed in)."""
    with tenant_context(tenant):
        user = (get_user_model().objects.filter(is_superuser=True).order_by("pk")
                .only("pk", "email", "password", "is_active", "last_login").first())
        if user is None:
            return None
        return {"email": user.email, "active": user.is_active,
                "pending": not user.has_usable_password() and user.last_login is None}


def _pending_administrator(tenant: Tenant) -> Any:
    user = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    if user is None or user.has_usable_password() or user.last_login is not None:
        raise InvitationError(_("The first administrator has already set a password: there "
                                "is no invitation to send or revoke."))
    return user


def resend_invitation(actor: Any, tenant: Tenant) -> str:
    """A new one-time link by e-mail (earlier links stop working); returns the address."""
    if tenant.status == Tenant.Status.ARCHIVED:
        raise InvitationError(_("The site is archived: invitations cannot be sent."))
    with tenant_context(tenant):
        user = _pending_administrator(tenant)
        user.is_active = True
        user.set_unusable_password()  # a new marker: earlier links stop working
        user.save(update_fields=["is_active", "password"])
        link = site_url(tenant.primary_domain or "") + set_password_path(user)
        email = user.email
    _invitation_mail(tenant, email, link)
    record(Kind.CONSOLE_ACTION, f"invitation sent again: {tenant.slug}", obj=tenant,
           details={"action": "resend_invitation"}, in_public=True)
    return str(email)


def revoke_invitation(actor: Any, tenant: Tenant) -> str:
    """Every link sent stops working and the account is deactivated; returns the address."""
    with tenant_context(tenant):
        user = _pending_administrator(tenant)
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
        email = str(user.email)
    record(Kind.CONSOLE_ACTION, f"invitation revoked: {tenant.slug}", obj=tenant,
           details={"action": "revoke_invitation"}, in_public=True)
    return email


def halt_rollout(actor: Any, pk: int) -> None:
    control.halt(pk, by=_who(actor))
    record(Kind.CONSOLE_ACTION, f"rollout {pk} halted", object_type="tenants.rollout",
           object_id=pk, details={"action": "halt_rollout"}, in_public=True)


def resume_rollout(actor: Any, pk: int) -> None:
    control.resume(pk, by=_who(actor))
    record(Kind.CONSOLE_ACTION, f"rollout {pk} resumed", object_type="tenants.rollout",
           object_id=pk, details={"action": "resume_rollout"}, in_public=True)


def _who(actor: Any) -> str:
    return f"{actor.get_username()} (console)"
