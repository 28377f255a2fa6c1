"""Case history and API submissions become webhook events, in the same transaction.

Every change of a case the engine makes writes a CaseEvent with save() (services/cases/
engine.py, services/applications/submission.py), so a post_save receiver sees each one
inside the transaction of the change: the deliveries commit with it or not at all. An API
submission (services.api.ApiSubmission) may be recorded after the case's own "submitted"
event in the same transaction; its receiver publishes case.submitted for the submitting
client again, and the shared event id makes it one delivery per subscription whichever
comes first.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from ..api.models import ApiSubmission
from ..cases.models import Case, CaseEvent
from .events import EventType, event_id, extra_of, types_of
from .models import any_active
from .publish import publish

#: CaseEvent kinds that can make a webhook event (the others cost no query at all).
PUBLISHED_KINDS = frozenset({CaseEvent.Kind.SUBMITTED, CaseEvent.Kind.STATUS,
                             CaseEvent.Kind.NOTE})


@receiver(post_save, sender=CaseEvent, dispatch_uid="webhooks.case_event")
def case_event_saved(sender, instance, created, raw=False, **kwargs):
    if not created or raw or instance.kind not in PUBLISHED_KINDS:
        return
    if not any_active():
        return  # most tenants have none: the tenant's cache says so, no query
    case = (Case.objects.select_related("workflow_version", "service__page")
            .get(pk=instance.case_id))
    for event_type in types_of(instance, case):
        publish(case, event_type, event_key(case, instance, event_type), at=instance.at,
                extra=extra_of(instance))


def event_key(case, case_event, event_type):
    if event_type == EventType.SUBMITTED:
        return event_id("case", case.pk, "submitted")
    return event_id("event", case_event.pk, event_type)


@receiver(post_save, sender=ApiSubmission, dispatch_uid="webhooks.api_submission")
def api_submission_saved(sender, instance, created, raw=False, **kwargs):
    if not created or raw:
        return
    case = (Case.objects.select_related("workflow_version", "service__page")
            .get(pk=instance.case_id))
    publish(case, EventType.SUBMITTED, event_id("case", case.pk, "submitted"),
            at=case.submitted_at)
