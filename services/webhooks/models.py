"""Webhook subscriptions and their deliveries, in the tenant's schema.

The signing secret is stored as it is, in the tenant's schema: it must be recoverable to sign
every delivery (a digest cannot sign), and it sits beside the cases it tells about, which are
far more sensitive; a tenant backup restored elsewhere keeps its webhooks working, which a
secret encrypted with one deployment's SECRET_KEY would not. It is shown to the
administrator once, never again (rotate to get a new one), and never written to the audit
trail or the logs. docs/webhooks.md says the same.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants import tenant_cache

from ..api.models import ApiClient
from . import signing
from .events import EventType


class SubscriptionQuerySet(models.QuerySet):
    """Every way of changing rows in bulk makes the tenant's cached "any active
    subscription?" stale (`any_active`), like a save or a delete (tenant_cache.watch below):
    a subscription made or enabled is seen by the very next case event."""

    def receiving(self, event_type: str):
        """Active subscriptions of active clients that asked for `event_type`."""
        return self.filter(is_active=True, client__is_active=True,
                           event_types__contains=[event_type])

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        tenant_cache.changed()
        return rows

    def bulk_create(self, *args, **kwargs):
        made = super().bulk_create(*args, **kwargs)
        tenant_cache.changed()
        return made

    def delete(self):
        deleted = super().delete()
        tenant_cache.changed()
        return deleted

    delete.queryset_only = True  # type: ignore[attr-defined]


class Subscription(models.Model):
    """An API client's request to be told of case events at a URL, with the secret that
    signs every delivery."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE,
                               related_name="webhook_subscriptions", verbose_name=_("client"))
    target_url = models.URLField(max_length=500, verbose_name=_("target URL"))
    event_types = ArrayField(models.CharField(max_length=40, choices=EventType.choices),
                             default=list, verbose_name=_("events"))
    secret = models.CharField(max_length=80, default=signing.new_secret, editable=False,
                              verbose_name=_("signing secret"))
    is_active = models.BooleanField(default=True, verbose_name=_("active"))
    # Deliveries given up one after the other; a delivered one sets it back to 0. At
    # delivery.DISABLE_AFTER the subscription is disabled and the administrators told.
    consecutive_failures = models.PositiveIntegerField(default=0,
                                                       verbose_name=_("failures in a row"))
    disabled_at = models.DateTimeField(null=True, blank=True,
                                       verbose_name=_("disabled automatically"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["client__name", "target_url", "pk"]

    def __str__(self):
        return f"{self.client} → {self.target_url}"

    def rotate_secret(self) -> str:
        """A new secret, saved; returned once for the administrator to copy."""
        self.secret = signing.new_secret()
        self.save(update_fields=["secret", "updated_at"])
        return self.secret


tenant_cache.watch(Subscription)


def any_active() -> bool:
    """Whether the tenant has an active subscription at all (most have none, and then a case
    event costs no query): from the tenant's cache, which every saved, deleted, updated or
    bulk-created subscription makes stale at once and again at commit."""
    return tenant_cache.remember(
        "webhooks:any-active", lambda: Subscription.objects.filter(is_active=True).exists())


class DeliveryQuerySet(models.QuerySet):
    def claimable(self, now=None):
        """Pending deliveries whose next attempt is due (a little early is fine: Celery's
        countdown and the database clock differ by milliseconds)."""
        now = now or timezone.now()
        return self.filter(status=Delivery.Status.PENDING,
                           next_attempt_at__lte=now + timezone.timedelta(seconds=5))


class Delivery(models.Model):
    """One event for one subscription: the payload as first built (a replay sends the same
    bytes with the same Webhook-Id), and how sending it went."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Given up")

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE,
                                     related_name="deliveries", verbose_name=_("subscription"))
    event_id = models.CharField(max_length=64, verbose_name=_("event id"),
                                help_text=_("Sent as Webhook-Id: the same on every attempt "
                                            "and replay."))
    event_type = models.CharField(max_length=40, choices=EventType.choices,
                                  verbose_name=_("event"))
    payload = models.JSONField(verbose_name=_("payload"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True, verbose_name=_("status"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    # Attempts of the current round: a replay starts a new round with the retry schedule
    # from the start, while `attempts` keeps counting every attempt ever made.
    round_attempts = models.PositiveIntegerField(default=0, editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                           verbose_name=_("next attempt"))
    last_attempt_at = models.DateTimeField(null=True, blank=True,
                                           verbose_name=_("last attempt"))
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True,
                                                        verbose_name=_("response code"))
    last_error = models.CharField(max_length=300, blank=True, verbose_name=_("last error"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered"))
    created_at = models.DateTimeField(default=timezone.now, db_index=True,
                                      verbose_name=_("created"))

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["subscription", "event_id"],
                                               name="webhook_delivery_once_per_event")]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"
