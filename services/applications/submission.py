"""Writing applications: drafts (answers that passed validation) and submission into a case.

`save_draft()` stores answers and uploads in the database and the tenant's private S3 prefix;
`submit_application()` turns a draft into exactly one case, however many times it is called
(back button, double click, a retried request): the draft row is locked and remembers its case.
"""

import hashlib
import json
import logging
import os
import unicodedata
import uuid

from django.db import connection, transaction
from django.db.models import signals
from django.utils import timezone
from django.utils.text import get_valid_filename

from infra.s3 import S3Error

from ..cases import engine
from ..cases.messages import notification_context
from ..cases.models import Case, CaseEvent, CaseNote, Channel
from ..cases.references import next_reference
from ..cases.retention import delete_files
from ..forms import spec as formspec
from ..forms.models import FormVersion, OnlineService
from ..kpis import counters as kpi_counters
from ..notifications.api import notify
from ..workflows.spec import transitions_from
from .models import ApplicationDraft, Payment, UploadedFile, private_storage
from .payments import provider

log = logging.getLogger(__name__)
CONTACT_FIELDS = formspec.CONTACT_NAMES


def safe_display_name(name):
    """The applicant's file name, reduced to something harmless to show (never used as a
    storage key): no folders, no `..`, printable, short."""
    base = "".join(c for c in (name or "") if unicodedata.category(c) not in ("Cc", "Cf"))
    base = os.path.basename(base.replace("\\", "/")).strip().lstrip(".")
    cleaned = get_valid_filename(base) if base else ""
    return (cleaned or "file")[-100:]


def _store_upload(draft, field_name, upload, case=None):
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    stored = UploadedFile(draft=draft, case=case, field_name=field_name,
                          original_name=safe_display_name(upload.name),
                          extension=upload.sniffed_extension, content_type=upload.sniffed_type,
                          size=upload.size, sha256=digest.hexdigest())
    # Never the applicant's file name: a random name under the draft's folder.
    folder = draft.token.hex if draft is not None else f"case-{case.pk}"
    name = f"uploads/{folder}/{uuid.uuid4().hex}.{upload.sniffed_extension}"
    stored.storage_name = private_storage().save(name, upload)
    stored.save()
    return stored


def current_form_version(service):
    """The form version new applications to `service` answer: its latest (made now if the
    published form changed since). The web form and the API (services/api) both ask here."""
    return service.versions.order_by("-number").first() or service.current_version()


def upload_limit(version):
    """The largest request body, in bytes, an application to `version` may send: each file
    question's own limit plus 1 MB for the answers. Checked before the body is read."""
    total = sum((f.get("max_size_mb") or 10) for f in version.spec if f["type"] == "file")
    return (total + 1) * 1024 * 1024


def file_answer(stored):
    return {"file": str(stored.id), "name": stored.original_name, "size": stored.size,
            "type": stored.content_type}


@transaction.atomic
def save_draft(service, version, cleaned, *, draft=None, channel=Channel.ONLINE, entered_by=None,
               language=""):
    """Store validated answers (and new uploads) as the applicant's draft."""
    if draft is not None and not draft.case_id and draft.form_version_id == version.id:
        # Locked, so the daily clean-up (services/applications/cleanup.py) never deletes a
        # draft being saved; if it deleted this one a moment ago, the applicant starts a fresh draft
        # rather than resurrecting one whose files are gone.
        draft = (ApplicationDraft.objects.select_for_update(of=("self",))
                 .filter(pk=draft.pk, case__isnull=True).first())
    else:
        draft = None
    if draft is None:
        draft = ApplicationDraft(service=service, form_version=version)
        if channel == Channel.ONLINE:
            # The funnel's "form started" (services/kpis/): counted once the draft is kept.
            page_id = service.page_id
            transaction.on_commit(lambda: kpi_counters.record_form_started(page_id))
    previous = dict(draft.answers or {})
    draft.channel = channel
    draft.entered_by = entered_by
    draft.language = language or draft.language
    draft.save()
    answers = {}
    for spec_field in version.spec:
        name = spec_field["name"]
        if name not in cleaned:
            continue  # a conditional question that does not apply
        value = cleaned[name]
        if spec_field["type"] == "file":
            if hasattr(value, "read"):
                answers[name] = file_answer(_store_upload(draft, name, value))
            elif previous.get(name):
                answers[name] = previous[name]  # kept from an earlier upload
            continue
        if value in (None, "", []):
            continue
        answers[name] = formspec.to_json(value)
    for name in CONTACT_FIELDS:
        answers[name] = cleaned.get(name) or ""
    draft.answers = answers
    draft.save(update_fields=["answers", "updated_at"])
    _drop_replaced_files(draft)
    return draft


def answered_file_ids(answers):
    """The ids of the uploads the answers name (a file answer is {"file": id, ...})."""
    return {value["file"] for value in answers.values()
            if isinstance(value, dict) and value.get("file")}


def _drop_replaced_files(draft):
    """Forget the draft's uploads its answers no longer name: a file chosen again in place of
    an earlier one, or the answer to a question that no longer applies. Their rows go with
    this transaction; their objects after it commits (a rolled-back save keeps the earlier
    files). An object whose deletion fails has no row left, so the daily clean-up of
    orphaned uploads removes it."""
    stale = (UploadedFile.objects.filter(draft=draft, case__isnull=True)
             .exclude(pk__in=list(answered_file_ids(draft.answers))))
    names = list(stale.values_list("storage_name", flat=True))
    if not names:
        return
    stale.delete()
    transaction.on_commit(lambda: _delete_stored(names))


def _delete_stored(names):
    try:
        delete_files(names)
    except S3Error:
        log.warning("Could not delete %s replaced upload(s) now; the daily clean-up of "
                    "orphaned uploads will", len(names), exc_info=True)


def _hand_over(draft, case, named):
    """The draft's part of a submission and the case's first event, in one statement: the
    uploads the answers name go to the case, the draft remembers its case (a replay finds
    it), the draft's other uploads (a file replaced before replaced files were dropped at
    saving) are deleted, their objects after commit as in `_drop_replaced_files`, and the
    "submitted" event is written. Four ORM statements before; the sub-statements see one
    snapshot and touch disjoint rows.

    The event is a model row like any other to the rest of the code: `pre_save` and
    `post_save` are sent around its INSERT as `save()` would (the API stamps its client in
    the first, webhooks publish case.submitted in the second), and it is returned saved."""
    files, drafts = UploadedFile._meta.db_table, ApplicationDraft._meta.db_table
    events = CaseEvent._meta.db_table
    now = timezone.now()
    event = CaseEvent(case=case, kind=CaseEvent.Kind.SUBMITTED, public=True,
                      actor_id=draft.entered_by_id,
                      actor_role="staff" if draft.entered_by_id else "applicant",
                      data={"channel": case.channel, "form_version": draft.form_version.number},
                      at=now)
    using = CaseEvent.objects.db
    signals.pre_save.send(sender=CaseEvent, instance=event, raw=False, using=using,
                          update_fields=None)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH moved AS (UPDATE {files} SET case_id = %(case)s "  # noqa: S608 - the models' own table names, values as parameters # nosec B608
            f"  WHERE draft_id = %(draft)s AND id = ANY(%(named)s::uuid[]) RETURNING id), "
            f"marked AS (UPDATE {drafts} SET case_id = %(case)s, updated_at = %(now)s "
            f"  WHERE token = %(draft)s RETURNING token), "
            f"dropped AS (DELETE FROM {files} WHERE draft_id = %(draft)s AND case_id IS NULL "
            f"  AND NOT (id = ANY(%(named)s::uuid[])) RETURNING storage_name), "
            f"logged AS (INSERT INTO {events} (case_id, kind, actor_id, actor_role, public, "
            f"  data, at) VALUES (%(case)s, %(kind)s, %(actor)s, %(role)s, %(public)s, "
            f"  %(data)s::jsonb, %(now)s) RETURNING id) "
            f"SELECT (SELECT id FROM logged), ARRAY(SELECT storage_name FROM dropped)",
            {"case": case.pk, "draft": draft.token, "named": sorted(named), "now": now,
             "kind": event.kind, "actor": event.actor_id, "role": event.actor_role,
             "public": event.public, "data": json.dumps(event.data)})
        event.pk, names = cursor.fetchone()
    event._state.adding, event._state.db = False, using
    draft.case, draft.updated_at = case, now
    signals.post_save.send(sender=CaseEvent, instance=event, created=True, update_fields=None,
                           raw=False, using=using)
    if names:
        transaction.on_commit(lambda: _delete_stored(names))
    return event


def _locked_draft(token):
    """The draft `token` with its form version (number and questions), its row locked until
    the transaction ends; None if there is none. Lock the draft row only: locking the joined
    version row too would queue every submission to a form behind the others (and deadlock
    with FK checks). Written as SQL: building the same query with the ORM (a join,
    select_related, FOR UPDATE OF) took about a tenth of a submit's CPU."""
    drafts, versions = ApplicationDraft._meta.db_table, FormVersion._meta.db_table
    found = list(ApplicationDraft.objects.raw(
        f"SELECT d.*, v.number AS version_number, v.spec AS version_spec "  # noqa: S608 - the models' own table names, the value as a parameter # nosec B608
        f"FROM {drafts} d JOIN {versions} v ON v.id = d.form_version_id "
        f"WHERE d.token = %s FOR UPDATE OF d", [token]))
    if not found:
        return None
    draft = found[0]
    spec = draft.version_spec
    names = ("id", "number", "spec")
    given = {"id": draft.form_version_id, "number": draft.version_number,
             "spec": json.loads(spec) if isinstance(spec, str | bytes) else spec}
    draft.form_version = FormVersion.from_db(
        ApplicationDraft.objects.db,
        [f.attname for f in FormVersion._meta.concrete_fields if f.attname in names],
        [given[f.attname] for f in FormVersion._meta.concrete_fields if f.attname in names])
    return draft


def submit_application(draft_token, service=None, *, on_created=None):
    """Make the case for a draft, once. Returns (case, created).

    `service`: the draft's service if the caller has it already (the check page has, with
    its page), so that it is not read again; a draft of another service reads its own.
    `on_created(case)`: called in the transaction right after the case row is made, before
    its first event, rules or receipt (the API records its client there, so that whatever
    follows the case's events finds who submitted it).
    Every row is written in one transaction with as few statements as the guarantees allow
    (the case INSERT carries its workflow state and deadline; one INSERT for every receipt);
    the receipts reach the broker after commit, through the outbox (services/notifications),
    so a broker that is down loses nothing and slows nothing.
    """
    with transaction.atomic():
        draft = _locked_draft(draft_token)
        if draft is None:
            raise ApplicationDraft.DoesNotExist(draft_token)
        if draft.case_id:
            return Case.objects.get(pk=draft.case_id), False
        if service is not None and draft.service_id == service.pk:
            draft.service = service
        else:  # not given (the check page and the API give it), or a draft of another one
            draft.service = OnlineService.objects.select_related("page").get(
                pk=draft.service_id)
        answers = dict(draft.answers)
        contact = {name: answers.pop(name, "") for name in CONTACT_FIELDS}
        workflow_version, status, due_date = engine.starting_point(draft.service)
        case = Case.objects.create(
            reference=next_reference(), submission_key=draft.token, service=draft.service,
            form_version=draft.form_version, answers=answers,
            applicant_name=contact["applicant_name"], applicant_email=contact["applicant_email"],
            applicant_phone=contact["applicant_phone"], language=draft.language,
            channel=draft.channel, entered_by_id=draft.entered_by_id,
            workflow_version=workflow_version, status=status, due_date=due_date)
        if on_created is not None:
            on_created(case)
        _hand_over(draft, case, answered_file_ids(answers))  # with the "submitted" event
        fee = draft.service.fee
        if fee:
            Payment.objects.create(case=case, amount=fee, provider=provider().name)
        notify("application_received", language=case.language, topic=case.reference,
               email=case.applicant_email or None, phone=case.applicant_phone or None,
               context=notification_context("application_received", case))
        if engine.apply_rules(case) is not None:
            case.refresh_from_db()  # the rule moved or routed the case
    return case, True


def provide_information(case, text, upload=None):
    """The applicant answers a request for more information: their message (and a file) go
    on the case and the case goes back to review."""
    with transaction.atomic():
        flow = engine.definition(case)
        step = next((t for t in transitions_from(flow, case.status)
                     if t["group"] == engine.APPLICANT), None)
        if step is None:
            raise engine.TransitionError("No information is being asked for.")
        CaseNote.objects.create(case=case, text=text, kind=CaseNote.Kind.ANSWER)
        if upload is not None:
            _store_upload(None, "more_info", upload, case=case)
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.INFO_PROVIDED, public=True,
                                 actor_role="applicant", data={"file": upload is not None})
        return engine.take(case.pk, step["code"], applicant=True)
