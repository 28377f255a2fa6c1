"""The S3 server stopped during an upload or a download (a SeaweedFS of our own): the citizen
gets the form back with their answers and a message on the file, nothing half-saved, and the
same upload works once S3 is back; staff get the "try again" page (503) for a download, then
the file. The draft saved before the outage keeps its answers and files."""

import logging
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from django_tenants.utils import tenant_context

from infra import s3
from services.cases import engine
from services.models import ApplicationDraft, Case, CaseEvent, UploadedFile
from services.workflows import spec as workflowspec

from ..factories import GOOD_ANSWERS as GOOD
from ..factories import NORTH, PDF, OnlineServiceFactory, post_form, submit
from .servers import PrivateSeaweedFS

pytestmark = pytest.mark.django_db
NEW_PDF = PDF + b"% a newer scan\n"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """A SeaweedFS of our own, used as the platform's S3 by every test here."""
    server = PrivateSeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    with override_settings(DGBOX_S3_ENDPOINT_URL=server.endpoint,
                           DGBOX_S3_ACCESS_KEY=server.access_key,
                           DGBOX_S3_SECRET_KEY=server.secret_key,
                           DGBOX_S3_BUCKET="dgbox-faults"):
        s3.ensure_bucket()
        yield server
    server.stop()


@pytest.fixture
def s3_up(s3_server):
    """S3 running at the start and at the end of each test."""
    if s3_server.proc is None or s3_server.proc.poll() is not None:
        s3_server.start()
    yield s3_server
    if s3_server.proc.poll() is not None:
        s3_server.start()


@pytest.fixture
def client():
    # The test client would re-raise the exception the middleware answered; a server does not.
    return Client(raise_request_exception=False)


def scan(content=NEW_PDF, name="новая-справка.pdf"):
    return {"certificate": SimpleUploadedFile(name, content, content_type="application/pdf")}


def test_an_upload_while_s3_is_down_keeps_the_answers_and_works_once_it_is_back(
        client, tenant_a, s3_up, caplog):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
    connection.set_schema_to_public()
    assert post_form(client).status_code == 302  # a draft with the first certificate
    with tenant_context(tenant_a):
        draft = ApplicationDraft.objects.get(service=service)
        first = draft.answers["certificate"]
        assert draft.answers["purpose"] == "School"

    # The applicant goes back, changes an answer and picks a newer scan: S3 is down.
    s3_up.stop()
    changed = dict(GOOD, purpose="Library")
    with caplog.at_level(logging.WARNING):
        refused = post_form(client, data=changed, files=scan())
    body = refused.content.decode()
    assert refused.status_code == 503 and refused["Retry-After"] == "60"
    assert "govuk-error-summary" in body and 'href="#id_certificate"' in body
    assert "Сейчас нам не удалось сохранить этот файл" in body
    assert 'value="Library"' in body and 'value="Анна Иванова"' in body  # answers kept
    assert "Traceback" not in body
    assert "Upload on /ru/apply/building-permit/ not stored" in caplog.text
    with tenant_context(tenant_a):
        draft.refresh_from_db()  # the draft stays as it was saved, its file too
        assert draft.answers["purpose"] == "School" and draft.answers["certificate"] == first
        assert UploadedFile.objects.filter(draft=draft).count() == 1

    # S3 is back: the same form sent again goes through.
    s3_up.start()
    assert post_form(client, data=changed, files=scan()).status_code == 302
    done, _token = submit(client)
    assert done.status_code == 302
    with tenant_context(tenant_a):
        case = Case.objects.get(service=service)
        assert case.answers["purpose"] == "Library"
        stored = case.files.get(pk=case.answers["certificate"]["file"])
        assert stored.original_name == "новая-справка.pdf"
        assert storages["private"].open(stored.storage_name).read() == NEW_PDF


def test_a_first_upload_while_s3_is_down_saves_nothing_and_keeps_the_answers(
        client, tenant_a, s3_up):
    with tenant_context(tenant_a):
        OnlineServiceFactory()
    connection.set_schema_to_public()
    s3_up.stop()
    refused = post_form(client)
    assert refused.status_code == 503
    assert 'value="Анна Иванова"' in refused.content.decode()
    with tenant_context(tenant_a):
        assert not ApplicationDraft.objects.exists()
        assert not UploadedFile.objects.exists()


def test_a_staff_download_while_s3_is_down_gets_the_try_again_page(client, tenant_a, s3_up,
                                                                   caplog):
    with tenant_context(tenant_a):
        OnlineServiceFactory()
    connection.set_schema_to_public()
    post_form(client)
    submit(client)
    with tenant_context(tenant_a):
        stored = Case.objects.get().files.get()
        boss = get_user_model().objects.create_superuser("boss", "boss@north.example", "x")
        client.force_login(boss)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    url = f"/admin/cases/files/{stored.pk}/"

    s3_up.stop()
    with caplog.at_level(logging.WARNING):
        response = client.get(url, **NORTH)
    body = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "Sorry, files are temporarily unavailable" in body and '<html lang="en"' in body
    assert "Traceback" not in body and "S3" not in body
    assert "answered 503: files unavailable" in caplog.text
    assert "Internal Server Error" not in caplog.text
    with tenant_context(tenant_a):  # not recorded as viewed: nobody saw it
        assert not CaseEvent.objects.filter(kind="file_viewed").exists()

    s3_up.start()
    response = client.get(url, **NORTH)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    with tenant_context(tenant_a):
        assert CaseEvent.objects.filter(kind="file_viewed").count() == 1


def test_an_answer_with_a_document_while_s3_is_down_is_kept_for_another_try(
        client, tenant_a, s3_up, django_capture_on_commit_callbacks):
    """The applicant answers a request for more information with a document."""
    with tenant_context(tenant_a):
        OnlineServiceFactory()
    connection.set_schema_to_public()
    post_form(client)
    with django_capture_on_commit_callbacks(execute=True):
        submit(client)
    with tenant_context(tenant_a):
        case = Case.objects.get()
        worker = get_user_model().objects.create_user("worker", "w@north.example", "x")
        worker.groups.add(Group.objects.get_or_create(name=workflowspec.STAFF_GROUP)[0])
        engine.take(case.pk, "request_info", actor=worker, values={"message": "A site plan?"})
    connection.set_schema_to_public()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/ru/track/", {"reference": case.reference}, **NORTH)
    code = re.search(r"(?<![-\d])(\d{6})(?![-\d])", mail.outbox[-1].body).group(1)
    assert client.post("/ru/track/code/", {"code": code}, **NORTH).status_code == 302

    with tenant_context(tenant_a):
        case.refresh_from_db()
        waiting = case.status
    s3_up.stop()
    refused = client.post("/ru/track/status/", {
        "message": "План прилагаю.", "document": SimpleUploadedFile("plan.pdf", PDF)}, **NORTH)
    assert refused.status_code == 503 and refused["Retry-After"] == "60"
    assert "План прилагаю." in refused.content.decode()  # the answer stays in the form
    with tenant_context(tenant_a):
        case.refresh_from_db()  # nothing half-done: still waiting, no answer, no file
        assert case.status == waiting
        assert not case.notes.filter(kind="answer").exists()
        assert not case.files.filter(field_name="more_info").exists()

    s3_up.start()
    sent = client.post("/ru/track/status/", {
        "message": "План прилагаю.", "document": SimpleUploadedFile("plan.pdf", PDF)}, **NORTH)
    assert sent.status_code == 302
    with tenant_context(tenant_a):
        assert case.notes.filter(kind="answer").count() == 1
        assert case.files.filter(field_name="more_info").count() == 1
