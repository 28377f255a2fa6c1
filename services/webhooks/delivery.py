"""Sending one delivery: claim it, POST it signed, record what happened, schedule the next
attempt or give up, and disable a subscription that keeps failing (docs/webhooks.md).

The HTTP client is requests-hardened (docs/dependencies.md): the target's name is resolved
once, the address checked (no private, loopback, link-local or metadata addresses unless
DGBOX_WEBHOOKS_ALLOW_LOCAL allows loopback) and the connection pinned to it, so a name that
resolves elsewhere on the second look (DNS rebinding) cannot reach the inside. Redirects are
never followed; at most RESPONSE_CAP bytes of the answer are read, within TOTAL_SECONDS.

No database transaction is held open while the request is in flight: the row is claimed
(its next attempt pushed LEASE ahead, so a duplicate task skips it), then written again with
the outcome.
"""

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from requests_hardened import Config, Manager

from ..notifications.api import notify
from . import signing, targets
from .models import Delivery, Subscription

logger = logging.getLogger(__name__)

#: Seconds to wait after failed attempt 1, 2, ... of a round; after the last, it is given up.
#: Six attempts over about 8 h 36 min. Each wait is stretched by up to JITTER at random so
#: that the retries of many deliveries to one receiver do not arrive together.
RETRY_SCHEDULE = (60, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600)
ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.2
#: Deliveries given up in a row after which the subscription is disabled.
DISABLE_AFTER = 10
CONNECT_SECONDS = 3
TOTAL_SECONDS = 10
RESPONSE_CAP = 64 * 1024
#: How long a claimed delivery is left alone by other tasks (longer than one attempt).
LEASE = timedelta(seconds=TOTAL_SECONDS * 6)
USER_AGENT = "dgbox-webhooks/1"
#: A pending delivery this late for its attempt lost its task; resend_overdue queues it again.
OVERDUE = timedelta(minutes=10)
RESEND_BATCH = 500


@dataclass(frozen=True)
class Outcome:
    """What one call of attempt() did: `sent` (False: nothing to do), `delivered`, and the
    seconds until the next attempt (None: no retry)."""

    sent: bool
    delivered: bool = False
    retry_in: float | None = None


def http_manager() -> Manager:
    return Manager(Config(
        default_timeout=(CONNECT_SECONDS, TOTAL_SECONDS - CONNECT_SECONDS),
        never_redirect=True, ip_filter_enable=True,
        ip_filter_allow_loopback_ips=settings.DGBOX_WEBHOOKS_ALLOW_LOCAL,
        user_agent_override=USER_AGENT))


def body_of(delivery: Delivery) -> str:
    """The exact text posted: the stored payload, keys sorted, so every attempt and replay
    of a delivery sends the same bytes."""
    return json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"), cls=DjangoJSONEncoder)


def post(url: str, secret: str, event_id: str, body: str) -> tuple[int | None, str]:
    """POST `body` signed; (status code or None, error text or "")."""
    try:
        targets.check(url)
    except ValidationError as exc:
        return None, " ".join(exc.messages)[:300]
    headers = {"Content-Type": "application/json; charset=utf-8",
               **signing.headers(secret, event_id, body)}
    started = time.monotonic()
    try:
        with http_manager().get_session() as session:
            response = session.post(url, data=body.encode(), headers=headers, stream=True)
            try:
                read = 0
                for chunk in response.iter_content(chunk_size=8192):
                    read += len(chunk)
                    if read >= RESPONSE_CAP or time.monotonic() - started > TOTAL_SECONDS:
                        break  # the answer's body is not needed: only its status
            finally:
                response.close()
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}"


def attempt(delivery_id: int) -> Outcome:
    """Make the next attempt of a delivery, if it is due and still pending; idempotent (a
    second task for the same delivery finds it claimed or done and does nothing)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("subscription", "subscription__client")
                    .claimable(now).filter(pk=delivery_id).first())
        if delivery is None:
            return Outcome(sent=False)
        subscription = delivery.subscription
        if not (subscription.is_active and subscription.client.is_active):
            delivery.status = Delivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.last_error = "The subscription or its client is disabled."
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return Outcome(sent=False)
        delivery.attempts += 1
        delivery.round_attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["attempts", "round_attempts", "last_attempt_at",
                                     "next_attempt_at"])
    code, error = post(subscription.target_url, subscription.secret, delivery.event_id,
                       body_of(delivery))
    return record(delivery.pk, code, error)


def retry_delay(round_attempts: int) -> float:
    base = RETRY_SCHEDULE[round_attempts - 1]
    return base * (1 + JITTER * secrets.randbelow(1001) / 1000)


@transaction.atomic
def record(delivery_id: int, code: int | None, error: str) -> Outcome:
    now = timezone.now()
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
    subscription = Subscription.objects.select_for_update().get(pk=delivery.subscription_id)
    delivery.last_status_code = code
    delivery.last_error = error
    if not error:
        delivery.status = Delivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.save()
        if subscription.consecutive_failures:
            subscription.consecutive_failures = 0
            subscription.save(update_fields=["consecutive_failures", "updated_at"])
        return Outcome(sent=True, delivered=True)
    if delivery.round_attempts < ATTEMPTS:
        delay = retry_delay(delivery.round_attempts)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        delivery.save()
        return Outcome(sent=True, retry_in=delay)
    delivery.status = Delivery.Status.FAILED
    delivery.next_attempt_at = None
    delivery.save()
    subscription.consecutive_failures += 1
    subscription.save(update_fields=["consecutive_failures", "updated_at"])
    if subscription.is_active and subscription.consecutive_failures >= DISABLE_AFTER:
        disable(subscription)
    return Outcome(sent=True)


def disable(subscription: Subscription) -> None:
    """Disable a subscription that keeps failing and tell the tenant's administrators."""
    subscription.is_active = False
    subscription.disabled_at = timezone.now()
    subscription.save(update_fields=["is_active", "disabled_at", "updated_at"])
    logger.warning("Webhook subscription %s of %s disabled after %s failed deliveries in a "
                   "row", subscription.pk, connection.schema_name,
                   subscription.consecutive_failures)
    tell_administrators(subscription)


def tell_administrators(subscription: Subscription) -> list:
    """One "webhook_disabled" e-mail per active administrator with an address, sent after
    commit through the notifications outbox (no personal data: the client and the URL)."""
    tenant = connection.tenant
    language = (getattr(tenant, "default_language", "") or settings.LANGUAGE_CODE)
    language = language.lower().split("-")[0]
    language = language if language in ("ru", "en") else "en"
    context = {"client": subscription.client.name, "target_url": subscription.target_url,
               "failures": subscription.consecutive_failures,
               "url": site_root(tenant) + subscription_path(subscription.pk)}
    messages = []
    admins = (get_user_model().objects.filter(is_superuser=True, is_active=True)
              .exclude(email="").values_list("email", flat=True).order_by("pk"))
    for email in admins:
        try:
            messages += notify("webhook_disabled", language=language, email=email,
                               topic=f"webhook {subscription.pk}", context=context)
        except ValidationError:
            logger.warning("An administrator of %s has an invalid e-mail address: no notice "
                           "of the disabled webhook sent there", connection.schema_name)
    return messages


def site_root(tenant) -> str:
    domain = getattr(tenant, "primary_domain", None) or ""
    port = f":{settings.DGBOX_SITE_PORT}" if settings.DGBOX_SITE_PORT else ""
    return f"{settings.DGBOX_SITE_SCHEME}://{domain}{port}"


def subscription_path(pk: int) -> str:
    try:
        return reverse("webhooks:deliveries", args=[pk], urlconf=settings.ROOT_URLCONF)
    except NoReverseMatch:
        return f"/admin/webhooks/{pk}/"


def overdue_ids(now=None, limit: int = RESEND_BATCH) -> list[int]:
    """Pending deliveries of active subscriptions more than OVERDUE late, oldest first."""
    now = now or timezone.now()
    return list(Delivery.objects.filter(status=Delivery.Status.PENDING,
                                        next_attempt_at__lt=now - OVERDUE,
                                        subscription__is_active=True)
                .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


@transaction.atomic
def replay(delivery: Delivery) -> Delivery:
    """Send a delivery again: the same payload and Webhook-Id, a new round of attempts."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = Delivery.Status.PENDING
    delivery.round_attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.last_error = ""
    delivery.save()
    return delivery


@transaction.atomic
def enable(subscription: Subscription) -> None:
    """Re-enable a subscription (its failure count starts again from 0)."""
    Subscription.objects.filter(pk=subscription.pk).update(
        is_active=True, consecutive_failures=0, disabled_at=None, updated_at=timezone.now())
