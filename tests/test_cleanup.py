"""The daily clean-up (services/applications/cleanup.py): abandoned drafts go with their
uploads, in every tenant, never a draft that became a case, not even one being submitted
at that moment; S3 objects under uploads/ that no row names go after a grace period,
nothing else does. Real PostgreSQL, real S3 (the run's bucket), uploads made through
services.applications.submission."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from infra import s3
from services.applications import cleanup
from services.applications.submission import save_draft, submit_application
from services.forms import spec as formspec
from services.models import ApplicationDraft, Case, OnlineService, UploadedFile
from services.notifications.models import Message
from services.tasks import clean_up_personal_data
from tenants.tasks import fan_out

from .factories import GOOD_ANSWERS, OnlineServiceFactory, good_files

pytestmark = pytest.mark.django_db
LONG_AGO = timedelta(days=31)  # past the default DGBOX_DRAFT_KEEP_DAYS (30)


def new_draft(service, name="Анна Иванова"):
    """A draft with one uploaded PDF, saved the way the apply view saves it."""
    version = service.current_version()
    form = formspec.ApplicationForm(version.spec, dict(GOOD_ANSWERS, applicant_name=name),
                                    good_files())
    assert form.is_valid(), form.errors
    return save_draft(service, version, form.cleaned_data)


def last_changed(draft, ago=LONG_AGO):
    ApplicationDraft.objects.filter(pk=draft.pk).update(updated_at=timezone.now() - ago)


def stored_name(draft):
    return UploadedFile.objects.get(draft=draft).storage_name


def in_storage(name):
    return storages["private"].exists(name)


def test_abandoned_drafts_go_with_their_files_in_every_tenant(tenant_a, tenant_b, s3_bucket):
    made = {}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            service = OnlineServiceFactory()
            abandoned, fresh, sent = new_draft(service), new_draft(service), new_draft(service)
            case, _created = submit_application(sent.token)
            last_changed(abandoned)
            last_changed(sent)  # submitted long ago: its draft stays with its case
            made[tenant.schema_name] = {
                "abandoned": (abandoned.pk, stored_name(abandoned)),
                "fresh": (fresh.pk, stored_name(fresh)),
                "sent": (sent.pk, stored_name(sent)), "case": case.pk}
            assert in_storage(made[tenant.schema_name]["abandoned"][1])
    connection.set_schema_to_public()

    sent_to = fan_out.apply(args=(clean_up_personal_data.name,)).get()
    assert {tenant_a.schema_name, tenant_b.schema_name} <= set(sent_to)

    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            ours = made[tenant.schema_name]
            token, name = ours["abandoned"]
            assert not ApplicationDraft.objects.filter(pk=token).exists()
            assert not UploadedFile.objects.filter(storage_name=name).exists()
            assert not in_storage(name)
            for kept in ("fresh", "sent"):
                token, name = ours[kept]
                assert ApplicationDraft.objects.filter(pk=token).exists(), kept
                assert UploadedFile.objects.filter(storage_name=name).exists(), kept
                assert in_storage(name), kept
            case = Case.objects.get(pk=ours["case"])
            assert case.draft.pk == ours["sent"][0]
            assert case.files.get().storage_name == ours["sent"][1]
            # A second run finds nothing more to do.
            assert cleanup.clean_up() == {"drafts": 0, "files": 0, "orphans": 0,
                                          "messages": 0}


def test_keep_days_is_a_setting(tenant_a, s3_bucket, settings):
    settings.DGBOX_DRAFT_KEEP_DAYS = 7
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        week_old, day_old = new_draft(service), new_draft(service)
        last_changed(week_old, timedelta(days=8))
        last_changed(day_old, timedelta(days=1))
        assert cleanup.delete_abandoned_drafts() == (1, 1)
        assert list(ApplicationDraft.objects.values_list("pk", flat=True)) == [day_old.pk]


def test_upload_rows_left_without_draft_or_case_go_too(tenant_a, s3_bucket):
    with tenant_context(tenant_a):
        draft = new_draft(OnlineServiceFactory())
        name = stored_name(draft)
        UploadedFile.objects.filter(storage_name=name).update(
            draft=None, uploaded_at=timezone.now() - LONG_AGO)
        assert cleanup.delete_abandoned_drafts() == (0, 1)  # the (fresh) draft is kept
        assert ApplicationDraft.objects.filter(pk=draft.pk).exists()
        assert not UploadedFile.objects.filter(storage_name=name).exists()
        assert not in_storage(name)


def test_orphaned_uploads_go_after_the_grace_period_and_nothing_else(tenant_a, tenant_b,
                                                                    s3_bucket):
    storage = storages["private"]

    def rolled_back_upload(service):
        """An upload whose draft's transaction rolled back after the file reached S3."""
        with pytest.raises(RuntimeError), transaction.atomic():
            lost = stored_name(new_draft(service))
            raise RuntimeError("the request failed after the upload")
        assert not UploadedFile.objects.filter(storage_name=lost).exists()
        assert in_storage(lost)
        return lost

    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        referenced = stored_name(new_draft(service))
        old_orphan = rolled_back_upload(service)
        letter = storage.save(f"letters/{uuid.uuid4().hex}-approved.html",
                              ContentFile(b"<p>letter</p>"))
        neighbour = storage.save(f"uploadsx/{uuid.uuid4().hex}.pdf", ContentFile(b"%PDF"))
    with tenant_context(tenant_b):
        other_tenant = rolled_back_upload(OnlineServiceFactory())
    time.sleep(1.2)  # S3 times have one-second resolution
    with tenant_context(tenant_a):
        fresh_orphan = rolled_back_upload(service)
        fresh_key = storage.key_for(fresh_orphan)
        # "Now" is one grace period after the fresh orphan was written: it is just young
        # enough to stay, everything written before it is old enough to go.
        written = next(info.last_modified for info in s3.iter_objects(fresh_key)
                       if info.key == fresh_key)
        now = written + cleanup.ORPHAN_GRACE

        assert cleanup.delete_orphaned_uploads(now) >= 1
        assert not in_storage(old_orphan)
        for kept in (referenced, fresh_orphan, letter, neighbour):
            assert in_storage(kept), kept
        assert cleanup.delete_orphaned_uploads(now) == 0  # nothing more to do

        # Through the task, at the real time: the fresh orphan is young, so it stays.
        assert cleanup.clean_up()["orphans"] == 0
        assert in_storage(fresh_orphan)
    with tenant_context(tenant_b):
        assert in_storage(other_tenant)


# --- a draft submitted while the clean-up runs (separate connections, committed rows) ------

def _committed_old_draft(in_thread, tenant):
    def prepare():
        with tenant_context(tenant):
            service = OnlineServiceFactory()
            draft = new_draft(service)
            last_changed(draft)
            return service.pk, draft.token, stored_name(draft)

    return in_thread(prepare)


def _remove_committed(in_thread, tenant, service_pk, token):
    def remove():
        with tenant_context(tenant):
            cases = Case.objects.filter(submission_key=token)
            Message.objects.filter(topic__in=cases.values("reference")).delete()
            names = list(UploadedFile.objects.filter(case__in=cases)
                         .values_list("storage_name", flat=True))
            ApplicationDraft.objects.filter(pk=token).delete()
            cases.delete()
            UploadedFile.objects.filter(draft=token).delete()
            OnlineService.objects.filter(pk=service_pk).delete()
            for name in names:
                storages["private"].delete(name)

    in_thread(remove)


def _run_in_thread(in_thread, fn, results):
    def target():
        try:
            results.append(in_thread(fn))
        except Exception as exc:  # noqa: BLE001 - handed to the test
            results.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_a_draft_being_submitted_is_skipped_and_its_case_keeps_its_files(tenant_a, s3_bucket,
                                                                         in_thread):
    service_pk, token, name = _committed_old_draft(in_thread, tenant_a)
    locked, release = threading.Event(), threading.Event()

    def submit_slowly():
        with tenant_context(tenant_a), transaction.atomic():
            case, created = submit_application(token)  # holds the draft's row lock
            locked.set()
            release.wait(60)
            return case.pk, created

    def clean():
        with tenant_context(tenant_a):
            return cleanup.delete_abandoned_drafts()

    def state():
        with tenant_context(tenant_a):
            case = Case.objects.filter(submission_key=token).first()
            draft = ApplicationDraft.objects.filter(pk=token).first()
            files = list(UploadedFile.objects.filter(storage_name=name)
                         .values_list("case_id", flat=True))
            return (case and case.pk, draft and draft.case_id, files, in_storage(name),
                    cleanup.delete_abandoned_drafts())

    try:
        submitted = []
        thread = _run_in_thread(in_thread, submit_slowly, submitted)
        assert locked.wait(60)
        assert in_thread(clean) == (0, 0)  # skipped: the submission holds the lock
        release.set()
        thread.join(120)
        [(case_pk, created)] = submitted
        assert created
        # The case is intact with its draft and file, and the next run leaves them alone.
        assert in_thread(state) == (case_pk, case_pk, [case_pk], True, (0, 0))
    finally:
        release.set()
        _remove_committed(in_thread, tenant_a, service_pk, token)


def test_a_submission_arriving_during_the_deletion_makes_no_case(tenant_a, s3_bucket,
                                                                 monkeypatch, in_thread):
    service_pk, token, name = _committed_old_draft(in_thread, tenant_a)
    deleting, go_on = threading.Event(), threading.Event()
    real_delete_files = cleanup.delete_files

    def delete_files_slowly(names):
        deleting.set()
        go_on.wait(60)
        real_delete_files(names)

    monkeypatch.setattr(cleanup, "delete_files", delete_files_slowly)

    def clean():
        with tenant_context(tenant_a):
            return cleanup.delete_abandoned_drafts()

    def submit():
        with tenant_context(tenant_a):
            return submit_application(token)

    def state():
        with tenant_context(tenant_a):
            return (Case.objects.filter(submission_key=token).exists(),
                    ApplicationDraft.objects.filter(pk=token).exists(),
                    UploadedFile.objects.filter(storage_name=name).exists(), in_storage(name))

    try:
        cleaned, submitted = [], []
        cleaner = _run_in_thread(in_thread, clean, cleaned)
        assert deleting.wait(60)
        submitter = _run_in_thread(in_thread, submit, submitted)
        _wait_for_a_lock_wait()
        go_on.set()
        cleaner.join(120)
        submitter.join(120)
        assert cleaned == [(1, 1)]
        [error] = submitted
        assert isinstance(error, ApplicationDraft.DoesNotExist)  # the view says "expired"
        assert in_thread(state) == (False, False, False, False)
    finally:
        go_on.set()
        _remove_committed(in_thread, tenant_a, service_pk, token)


def _wait_for_a_lock_wait():
    """Until some connection waits on a row lock (the submission, behind the clean-up)."""
    deadline = time.monotonic() + 60
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                           "datname = current_database() AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the submission never waited for the draft's lock")


def test_saving_a_draft_the_clean_up_just_deleted_starts_a_fresh_one(tenant_a, s3_bucket):
    """The applicant's browser still holds the draft the clean-up deleted a moment ago: the
    next save makes a new draft instead of bringing back a row whose files are gone."""
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        stale = new_draft(service)
        last_changed(stale)
        drafts, files = cleanup.delete_abandoned_drafts()
        assert drafts >= 1 and files >= 1
        assert not ApplicationDraft.objects.filter(pk=stale.pk).exists()
        version = service.current_version()
        form = formspec.ApplicationForm(version.spec, GOOD_ANSWERS, good_files())
        assert form.is_valid(), form.errors
        saved = save_draft(service, version, form.cleaned_data, draft=stale)
        assert saved.pk != stale.pk and saved.token != stale.token
        assert not ApplicationDraft.objects.filter(pk=stale.pk).exists()
        assert UploadedFile.objects.filter(draft=saved).count() == 1
