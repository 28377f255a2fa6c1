"""Case events as webhooks: which events there are, what they carry, who receives them.

From the case engine's history (CaseEvent) to webhook events:

| CaseEvent                       | webhook event(s)                                         |
| ------------------------------- | -------------------------------------------------------- |
| submitted (or an API submission)| case.submitted                                           |
| status (every transition)       | case.status_changed; and case.information_requested when  |
|                                 | the new state waits for the applicant (its clock paused); |
|                                 | and case.decided when the new state is final (not when   |
|                                 | the case is withdrawn)                                   |
| note (a staff note)             | case.note_added (staff systems only; without its text)   |

Who receives an event, and nothing else, ever:
- a client with `applications:read`: events of the cases it submitted (ApiSubmission), only
  those of the public history (never case.note_added);
- a client with `cases:work`: events of every case its service account may see in the staff
  inbox, i.e. when that account is active and holds `services.view_case` (the inbox shows
  such staff every case of the tenant: services/cases/inbox.py).

Payloads are thin: the case's reference, state and service, and what changed; never the
applicant's name, contact details, answers, note texts or the reason of a decision. A
receiver that needs more reads the case over the API, where its scopes apply.
"""

import uuid

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..cases.models import Case, CaseEvent
from ..workflows import spec as workflowspec


class EventType:
    SUBMITTED = "case.submitted"
    STATUS_CHANGED = "case.status_changed"
    DECIDED = "case.decided"
    INFORMATION_REQUESTED = "case.information_requested"
    NOTE_ADDED = "case.note_added"

    choices = [
        (SUBMITTED, _("Application submitted")),
        (STATUS_CHANGED, _("Case status changed")),
        (DECIDED, _("Decision made")),
        (INFORMATION_REQUESTED, _("More information requested from the applicant")),
        (NOTE_ADDED, _("Staff note added (staff systems only)")),
    ]
    values = [value for value, _label in choices]


#: Events of the public history, which the client that submitted a case receives.
PUBLIC_EVENTS = frozenset({EventType.SUBMITTED, EventType.STATUS_CHANGED, EventType.DECIDED,
                           EventType.INFORMATION_REQUESTED})
WITHDRAWN = "withdrawn"  # the standard workflow's withdrawal: final, but not a decision
_NAMESPACE = uuid.UUID("5b0f2b53-7d0c-4a37-9a43-4f1a9d1c2e61")


def event_id(*parts) -> str:
    """A stable id for one event: the same whichever receiver records it first, different
    in every tenant (the schema is part of it), so receivers can de-duplicate by it."""
    name = ":".join(str(part) for part in (connection.schema_name, *parts))
    return f"msg_{uuid.uuid5(_NAMESPACE, name).hex}"


def types_of(case_event: CaseEvent, case: Case) -> list[str]:
    """The webhook events a CaseEvent makes (none for the kinds not published)."""
    kind = case_event.kind
    if kind == CaseEvent.Kind.SUBMITTED:
        return [EventType.SUBMITTED]
    if kind == CaseEvent.Kind.NOTE:
        return [EventType.NOTE_ADDED]
    if kind != CaseEvent.Kind.STATUS:
        return []
    found = [EventType.STATUS_CHANGED]
    definition = case.workflow_version.definition if case.workflow_version_id else None
    target = workflowspec.state(definition, case.status) if definition else {}
    if target.get("clock") == "paused":
        found.append(EventType.INFORMATION_REQUESTED)
    if target.get("terminal") and case.status != WITHDRAWN:
        found.append(EventType.DECIDED)
    return found


def case_summary(case: Case) -> dict:
    """What every payload says of the case: no personal data."""
    slug = case.service.page.slug if case.service_id else ""
    return {"reference": case.reference, "status": case.status,
            "status_label": str(case.status_label), "service": slug,
            "submitted_at": case.submitted_at.isoformat() if case.submitted_at else None,
            "closed": case.closed_at is not None}


def payload(event_type: str, case: Case, *, at=None, extra: dict | None = None) -> dict:
    """The JSON posted (Standard Webhooks' shape: type, timestamp, data)."""
    return {"type": event_type, "timestamp": (at or timezone.now()).isoformat(),
            "data": {"case": case_summary(case), **(extra or {})}}


def extra_of(case_event: CaseEvent) -> dict:
    """What changed, from the event's own data: states and the step's code; a note's id."""
    data = case_event.data or {}
    if case_event.kind == CaseEvent.Kind.STATUS:
        return {"from": data.get("from"), "to": data.get("to"),
                "transition": data.get("transition"), "automatic": bool(data.get("automatic"))}
    if case_event.kind == CaseEvent.Kind.NOTE:
        return {"note": data.get("note")}
    return {}
