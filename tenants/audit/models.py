"""The audit trail's one table: `AuditEvent`, append-only.

PostgreSQL refuses every UPDATE, DELETE and TRUNCATE of it (a trigger installed by
migration 0001 in every schema; see docs/security.md#audit-trail), so neither `save()` on an
existing row, nor a bulk `update()`/`delete()`, nor raw SQL can rewrite history. The same
trigger stamps `at` with the database's clock on insert: rows cannot be back-dated.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    """What happened. Stored codes never change; labels may."""

    SIGN_IN = "sign_in", _("Signed in")
    SIGN_IN_FAILED = "sign_in_failed", _("Failed sign-in")
    SIGN_OUT = "sign_out", _("Signed out")
    LOCKED_OUT = "locked_out", _("Locked out")
    TWO_FACTOR_ADDED = "2fa_added", _("Two-factor device added")
    TWO_FACTOR_REMOVED = "2fa_removed", _("Two-factor device removed")
    USER_CREATED = "user_created", _("User created")
    USER_DEACTIVATED = "user_deactivated", _("User deactivated")
    USER_ACTIVATED = "user_activated", _("User reactivated")
    USER_ROLE_CHANGED = "user_role_changed", _("Administrator or staff flag changed")
    USER_GROUPS_CHANGED = "user_groups", _("User's groups changed")
    USER_PERMISSIONS_CHANGED = "user_permissions", _("User's permissions changed")
    GROUP_PERMISSIONS_CHANGED = "group_permissions", _("Group's permissions changed")
    CASE_VIEWED = "case_viewed", _("Case viewed")
    FILE_VIEWED = "file_viewed", _("File viewed")
    CASE_EXPORTED = "case_exported", _("Case exported")
    INBOX_SEARCHED = "inbox_searched", _("Inbox searched")
    AUDIT_EXPORTED = "audit_exported", _("Audit log exported")
    TENANT_LAUNCHED = "tenant_launched", _("Tenant launched")
    TENANT_SUSPENDED = "tenant_suspended", _("Tenant suspended")
    TENANT_RESUMED = "tenant_resumed", _("Tenant resumed")
    TENANT_ARCHIVED = "tenant_archived", _("Tenant archived")
    TENANT_DELETED = "tenant_deleted", _("Tenant deleted")
    TENANT_BACKED_UP = "tenant_backed_up", _("Tenant backed up")
    TENANT_RESTORED = "tenant_restored", _("Tenant restored")
    CONSOLE_ACTION = "console_action", _("Console action")
    # The open API (services/api/): an administrator's change to an API client or its keys,
    # and every call a client makes with its key (reads and writes apart, to filter on).
    API_CLIENT_CHANGED = "api_client", _("API client or key changed")
    API_WRITE = "api_write", _("API write call")
    API_READ = "api_read", _("API read call")
    WEBHOOK_CHANGED = "webhook_changed", _("Webhook subscription changed or delivery replayed")
    # The maturity assessment (services/assessment/): a round opened, submitted, returned or
    # approved.
    ASSESSMENT = "assessment", _("Maturity assessment round changed")


class AuditEvent(models.Model):
    """One thing that happened, who did it, from where: never changed, never deleted by the
    application. The actor is kept as an id and a display name, not a foreign key, so deleting
    a user neither cascades here nor loses who they were. `details` holds no personal data of
    citizens in clear (search terms as a keyed hash and a length)."""

    at = models.DateTimeField(_("when"), db_default=Now(), db_index=True)
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True, db_index=True)
    actor_display = models.CharField(_("actor"), max_length=200, blank=True)
    client_address = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    kind = models.CharField(_("event"), max_length=40, choices=Kind.choices, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    summary = models.CharField(_("summary"), max_length=300)
    details = models.JSONField(_("details"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    request_id = models.CharField(_("request id"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind} {self.actor_display}"
