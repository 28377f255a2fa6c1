"""Deleting what applicants left behind: abandoned drafts, orphaned uploads, delivered codes.

Run per tenant by the daily task `services.clean_up_personal_data` (beat fan-out):

- **Abandoned drafts**: a draft never submitted and not changed for DGBOX_DRAFT_KEEP_DAYS is
  deleted with its uploads (rows and S3 objects). A draft that became a case is never touched:
  submission sets `case` on the draft and on its files. The drafts are locked (FOR UPDATE
  SKIP LOCKED) in the transaction that deletes them: a draft being submitted at that moment
  is skipped (submit_application holds its lock) and has a case by the next run; a submission
  that arrives while its draft is being deleted waits for the lock, then finds no draft and
  makes no case (the applicant is told nothing was sent).
- **Orphaned uploads**: an upload whose draft's transaction rolled back after the file reached
  S3 has no row. Objects under the tenant's `uploads/` older than ORPHAN_GRACE that no
  UploadedFile names are deleted; younger ones may belong to an upload still in progress.
  Nothing outside `tenants/<schema>/uploads/` is listed or deleted.
- **Delivered codes**: tracking-code messages are masked as soon as they are sent (the
  `notifications.deliver` task); this catches any that were not (sent before that existed,
  or masking failed).

Files go first, then rows, in one transaction per batch: if S3 fails, the drafts stay as they
were and the next run tries again (deleting a key twice is fine).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from infra import s3

from ..cases.retention import delete_files
from ..notifications.api import REDACTED, SECRET_FINDERS, redact_finished
from ..notifications.choices import Status
from ..notifications.models import Message
from .models import ApplicationDraft, UploadedFile, private_storage

log = logging.getLogger(__name__)

#: Drafts deleted per transaction (their files go in one or a few S3 requests).
DRAFT_BATCH = 200
#: How old an unreferenced object under uploads/ must be before it is deleted: an upload is
#: written to S3 a moment before its row commits, never a day before.
ORPHAN_GRACE = timedelta(days=1)
#: Where applicants' uploads live in a tenant's prefix
#: (services.applications.submission._store_upload).
UPLOADS_FOLDER = "uploads/"
#: Messages checked for unmasked codes per run (the newest first).
REDACT_BATCH = 2000


def clean_up(now=None):
    """Run every clean-up in the current tenant; returns the counts, also logged."""
    now = now or timezone.now()
    drafts, files = delete_abandoned_drafts(now)
    orphans = delete_orphaned_uploads(now)
    messages = redact_delivered_codes()
    counts = {"drafts": drafts, "files": files, "orphans": orphans, "messages": messages}
    log.info("Clean-up in %s: %s abandoned draft(s) and %s of their file(s) deleted, %s "
             "orphaned upload(s) deleted, %s message(s) masked", connection.schema_name,
             drafts, files, orphans, messages)
    return counts


def abandoned_drafts(cutoff):
    """Drafts that never became a case and were last changed before `cutoff`."""
    return ApplicationDraft.objects.filter(case__isnull=True, updated_at__lt=cutoff)


def delete_abandoned_drafts(now=None):
    """Delete drafts not changed for DGBOX_DRAFT_KEEP_DAYS and their files, and upload rows
    left with neither draft nor case; returns (drafts, files) deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.DGBOX_DRAFT_KEEP_DAYS)
    drafts = files = 0
    while True:
        with transaction.atomic():
            tokens = list(abandoned_drafts(cutoff).order_by("updated_at")
                          .select_for_update(skip_locked=True)
                          .values_list("token", flat=True)[:DRAFT_BATCH])
            if not tokens:
                break
            # A draft without a case has no file attached to a case; the filter is a guard.
            stored = UploadedFile.objects.filter(draft__in=tokens, case__isnull=True)
            names = list(stored.values_list("storage_name", flat=True))
            delete_files(names)
            stored.delete()
            ApplicationDraft.objects.filter(pk__in=tokens).delete()
        drafts += len(tokens)
        files += len(names)
        if len(tokens) < DRAFT_BATCH:
            break
    files += _delete_stray_files(cutoff)
    return drafts, files


def _delete_stray_files(cutoff):
    """Upload rows whose draft was deleted some other way (the link is SET_NULL) and that
    belong to no case: nobody can reach them."""
    with transaction.atomic():
        stray = list(UploadedFile.objects.filter(draft__isnull=True, case__isnull=True,
                                                 uploaded_at__lt=cutoff)
                     .select_for_update(skip_locked=True).values_list("pk", "storage_name"))
        if stray:
            delete_files([name for _pk, name in stray])
            UploadedFile.objects.filter(pk__in=[pk for pk, _name in stray]).delete()
    return len(stray)


def delete_orphaned_uploads(now=None, grace=ORPHAN_GRACE):
    """Delete objects under the tenant's uploads/ older than `grace` that no UploadedFile
    names; returns how many. One listing (1,000 keys a request) and one delete request per
    1,000 orphans."""
    now = now or timezone.now()
    cutoff = now - grace
    storage = private_storage()
    root = storage.tenant_root()  # tenants/<schema>/: refuses the public schema
    bucket = storage.bucket_name
    deleted = 0
    old = []
    for info in s3.iter_objects(root + UPLOADS_FOLDER, bucket=bucket):
        if info.last_modified < cutoff:
            old.append(info.key)
        if len(old) >= s3.DELETE_BATCH:
            deleted += _delete_unreferenced(old, root, bucket)
            old = []
    deleted += _delete_unreferenced(old, root, bucket)
    return deleted


def _delete_unreferenced(keys, root, bucket):
    if not keys:
        return 0
    names = {key[len(root):]: key for key in keys if key.startswith(root + UPLOADS_FOLDER)}
    referenced = set(UploadedFile.objects.filter(storage_name__in=list(names))
                     .values_list("storage_name", flat=True))
    orphans = [key for name, key in names.items() if name not in referenced]
    if orphans:
        s3.delete_keys(orphans, bucket=bucket)
    return len(orphans)


def redact_delivered_codes():
    """Mask the codes of sent or failed tracking-code messages that still show them."""
    unmasked = (Message.objects.filter(key__in=list(SECRET_FINDERS))
                .exclude(status=Status.PENDING).exclude(body="")
                .exclude(body__contains=REDACTED).order_by("-pk")
                .values_list("pk", flat=True)[:REDACT_BATCH])
    return redact_finished(Message.objects.filter(pk__in=list(unmasked)))
