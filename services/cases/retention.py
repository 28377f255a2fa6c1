"""Retention: erase the personal data of cases closed longer ago than their service keeps it.

Run per tenant by the daily task `services.apply_retention`. A case is due when
`closed_at + service.retention_days < now` and it has not been erased yet. Erasing it:

- blanks the applicant's name, e-mail and phone, the answers and the decision reason;
- blanks the text of its notes and the inputs recorded with automated decisions;
- deletes its files (uploads, decision letters) from the private storage, then their rows;
- deletes the application draft and the tracking codes;
- blanks the recipient, subject and text of the notifications about it (topic = reference);
- sets `erased_at` and writes a CaseEvent ERASED {"files", "notes", "messages"}.

What is kept is anonymous and serves statistics: the case row with its reference, service,
status, channel, group, dates, SLA flag and workflow version, its events (which never hold
personal data), payments' amounts and the automated decisions' rule and outcome.

Each case is erased in its own transaction, files first: if the storage fails, the case is
left as it was (files already deleted stay deleted) and the next run tries again; a file is
never left in storage without a row pointing at it.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from infra import s3

from ..applications.models import ApplicationDraft, TrackingCode, UploadedFile, private_storage
from ..forms.models import OnlineService
from ..notifications.choices import Status
from ..notifications.models import Message
from .models import AutomatedDecision, Case, CaseEvent, CaseNote

log = logging.getLogger(__name__)


def expired_cases(now=None):
    """Cases whose retention period is over and which still hold personal data."""
    now = now or timezone.now()
    due = Q(pk__in=[])
    for service_id, days in OnlineService.objects.values_list("pk", "retention_days"):
        due |= Q(service_id=service_id, closed_at__lt=now - timedelta(days=days))
    return Case.objects.filter(due, closed_at__isnull=False, erased_at__isnull=True)


def apply_retention(now=None):
    """Erase every expired case; returns {"erased": n, "files": n}."""
    now = now or timezone.now()
    erased = files = 0
    for pk in expired_cases(now).order_by("closed_at", "pk").values_list("pk", flat=True):
        deleted = erase_case(pk, now=now)
        if deleted is not None:
            erased += 1
            files += deleted
    return {"erased": erased, "files": files}


def erase_case(pk, now=None):
    """Erase one case's personal data; returns the number of files deleted, or None if the
    case was already erased (or is gone)."""
    now = now or timezone.now()
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",)).filter(pk=pk, erased_at__isnull=True)
                .first())
        if case is None:
            return None
        stored = UploadedFile.objects.filter(Q(case=case) | Q(draft__case=case))
        names = list(stored.values_list("storage_name", flat=True))
        delete_files(names)
        stored.delete()
        ApplicationDraft.objects.filter(case=case).delete()
        TrackingCode.objects.filter(case=case).delete()
        notes = CaseNote.objects.filter(case=case).exclude(text="").update(text="")
        AutomatedDecision.objects.filter(case=case).update(inputs={})
        about = Message.objects.filter(topic=case.reference)
        about.filter(status=Status.PENDING).update(
            status=Status.FAILED, last_error="Not sent: the case's personal data was erased.")
        messages = about.update(recipient="", subject="", body="")
        Case.objects.filter(pk=case.pk).update(
            applicant_name="", applicant_email="", applicant_phone="", answers={},
            decision_reason="", erased_at=now, updated_at=now)
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.ERASED, actor_role="system",
                                 data={"files": len(names), "notes": notes,
                                       "messages": messages})
    return len(names)


def delete_files(names):
    """Delete stored files of the current tenant, in batches (missing files are fine)."""
    if not names:
        return
    storage = private_storage()
    keys = [storage.key_for(name) for name in names]
    s3.delete_keys(keys, bucket=storage.bucket_name)
