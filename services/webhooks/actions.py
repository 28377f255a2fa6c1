"""What administrators do to subscriptions and deliveries, each audited (tenants/audit):
create, change, rotate the secret, delete, replay a delivery, re-enable. The secret itself
is never written to the audit trail. An API client managing its own subscriptions (api.py)
passes `actor`, so the trail names the client rather than its service account alone."""

from django.db import transaction

from tenants.audit.models import Kind as AuditKind
from tenants.audit.service import record as audit

from . import delivery as sending
from .models import Delivery, Subscription
from .tasks import queue_on_commit


def _details(subscription: Subscription, **more) -> dict:
    return {"client": subscription.client.name, "target_url": subscription.target_url,
            "events": list(subscription.event_types), "active": subscription.is_active, **more}


@transaction.atomic
def create(subscription: Subscription, *, actor=None) -> Subscription:
    subscription.save()
    audit(AuditKind.WEBHOOK_CHANGED, "Webhook subscription created", obj=subscription,
          actor=actor, details=_details(subscription, action="created"))
    return subscription


@transaction.atomic
def change(subscription: Subscription, changed: list[str], *, actor=None) -> Subscription:
    subscription.save()
    audit(AuditKind.WEBHOOK_CHANGED, "Webhook subscription changed", obj=subscription,
          actor=actor, details=_details(subscription, action="changed", fields=sorted(changed)))
    return subscription


@transaction.atomic
def rotate_secret(subscription: Subscription, *, actor=None) -> str:
    secret = subscription.rotate_secret()
    audit(AuditKind.WEBHOOK_CHANGED, "Webhook signing secret rotated", obj=subscription,
          actor=actor, details=_details(subscription, action="secret_rotated"))
    return secret


@transaction.atomic
def delete(subscription: Subscription, *, actor=None) -> None:
    audit(AuditKind.WEBHOOK_CHANGED, "Webhook subscription deleted", obj=subscription,
          actor=actor, details=_details(subscription, action="deleted",
                           deliveries=subscription.deliveries.count()))
    subscription.delete()


@transaction.atomic
def enable(subscription: Subscription) -> None:
    sending.enable(subscription)
    subscription.refresh_from_db()
    audit(AuditKind.WEBHOOK_CHANGED, "Webhook subscription re-enabled", obj=subscription,
          details=_details(subscription, action="enabled"))


@transaction.atomic
def replay(delivery: Delivery) -> Delivery:
    """Send a delivery again (same payload, same Webhook-Id), after the commit."""
    delivery = sending.replay(delivery)
    audit(AuditKind.WEBHOOK_CHANGED, "Webhook delivery replayed", obj=delivery.subscription,
          details=_details(delivery.subscription, action="replayed",
                           event_id=delivery.event_id, event_type=delivery.event_type))
    queue_on_commit([delivery.pk])
    return delivery
