"""Turning a case event into deliveries: one Delivery row per subscription that may receive
it, written in the transaction of the case change, and the sending task queued after the
commit (never during the request: a dead endpoint cannot slow case work)."""

from django.db.models import Q
from django.utils import timezone

from ..api.scopes import Scope
from ..cases.models import Case
from .events import PUBLIC_EVENTS, payload
from .models import Delivery, Subscription


def audience(case: Case, event_type: str):
    """Subscriptions that may receive `event_type` of `case` (a QuerySet): see events.py."""
    submitted_by_them = Q(client__scopes__contains=[Scope.READ_OWN_SUBMISSIONS],
                          client__submissions__case=case)
    view_case = {"codename": "view_case", "content_type__app_label": "services"}
    staff = Q(client__scopes__contains=[Scope.CASE_WORK],
              client__service_user__is_active=True) & (
        Q(client__service_user__is_superuser=True)
        | Q(**{f"client__service_user__user_permissions__{k}": v for k, v in view_case.items()})
        | Q(**{f"client__service_user__groups__permissions__{k}": v
               for k, v in view_case.items()}))
    who = (submitted_by_them | staff) if event_type in PUBLIC_EVENTS else staff
    return Subscription.objects.receiving(event_type).filter(who).distinct()


def publish(case: Case, event_type: str, event_id: str, *, at=None,
            extra: dict | None = None) -> list[Delivery]:
    """Record `event_type` of `case` for every subscription that may receive it (once per
    subscription and event id) and queue the deliveries after the commit."""
    at = at or timezone.now()
    subscriptions = list(audience(case, event_type).values_list("pk", flat=True))
    if not subscriptions:
        return []
    already = set(Delivery.objects.filter(event_id=event_id, subscription_id__in=subscriptions)
                  .values_list("subscription_id", flat=True))
    body = payload(event_type, case, at=at, extra=extra)
    rows = Delivery.objects.bulk_create([
        Delivery(subscription_id=pk, event_id=event_id, event_type=event_type, payload=body,
                 next_attempt_at=at) for pk in subscriptions if pk not in already])
    # Imported when a delivery is queued: the task module imports Celery and the hardened HTTP
    # client, which a process that publishes nothing need not load (dgbox/__init__.py).
    from .tasks import queue_on_commit  # noqa: PLC0415

    queue_on_commit([row.pk for row in rows])
    return rows
