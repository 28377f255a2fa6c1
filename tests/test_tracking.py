"""Tracking an application: reference + one-time code, wrong codes refused and rate limited,
the status page shows the history in plain words, never cached, nothing personal in URLs."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context

from services import tracking
from services.applications import submit_application
from services.models import ApplicationDraft, TrackingCode
from services.workflow import take

from .test_apply import NORTH, SOUTH, make_service

pytestmark = pytest.mark.django_db
SIMPLE = [{"type": "text", "name": "purpose", "label": "Purpose", "required": True}]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()  # rate-limit counters
    yield
    cache.clear()


@pytest.fixture
def north_case(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        service = make_service(spec=SIMPLE)
        draft = ApplicationDraft.objects.create(
            service=service, form_version=service.current_version(),
            answers={"purpose": "x", "applicant_name": "Пётр", "applicant_email":
                     "petr@example.org", "applicant_phone": ""})
        with django_capture_on_commit_callbacks(execute=True):
            case, _created = submit_application(draft.token)
    connection.set_schema_to_public()
    mail.outbox.clear()
    return case


def ask_code(client, reference, host=NORTH, capture=None):
    with capture(execute=True):
        response = client.post("/ru/track/", {"reference": reference}, **host)
    return response


def last_code():
    return re.search(r"(?<![-\d])(\d{6})(?![-\d])", mail.outbox[-1].body).group(1)


def test_applicant_tracks_with_reference_and_emailed_code(client, tenant_a, north_case,
                                                         django_capture_on_commit_callbacks):
    response = ask_code(client, north_case.reference.lower(),
                        capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response["Location"].endswith("/track/code/")
    assert mail.outbox[-1].to == ["petr@example.org"]
    with tenant_context(tenant_a):
        take(north_case.pk, "start_review", automatic=True)
    response = client.post("/ru/track/code/", {"code": last_code()}, **NORTH)
    assert response.status_code == 302 and response["Location"].endswith("/track/status/")
    status = client.get("/ru/track/status/", **NORTH)
    assert "no-store" in status["Cache-Control"]
    body = status.content.decode()
    assert north_case.reference in body
    assert "Рассматривается" in body or "Being reviewed" in body
    assert body.count("<li>") >= 2  # received, then the status change
    for url in (response["Location"], "/ru/track/status/"):
        assert north_case.reference not in url and "petr" not in url


def test_a_code_works_once(client, north_case, django_capture_on_commit_callbacks):
    ask_code(client, north_case.reference, capture=django_capture_on_commit_callbacks)
    code = last_code()
    assert client.post("/ru/track/code/", {"code": code}, **NORTH).status_code == 302
    assert client.post("/ru/track/code/", {"code": code}, **NORTH).status_code == 400


def test_wrong_codes_are_refused_then_the_code_is_locked(client, tenant_a, north_case,
                                                        django_capture_on_commit_callbacks):
    ask_code(client, north_case.reference, capture=django_capture_on_commit_callbacks)
    code = last_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(tracking.TRIES_PER_CODE):
        response = client.post("/ru/track/code/", {"code": wrong}, **NORTH)
        assert response.status_code == 400
        assert "govuk-error-summary" in response.content.decode()
    # Even the right code no longer works: five wrong tries burn it.
    response = client.post("/ru/track/code/", {"code": code}, **NORTH)
    assert response.status_code == 400
    with tenant_context(tenant_a):
        assert TrackingCode.objects.get().attempts == tracking.TRIES_PER_CODE
    assert client.get("/ru/track/status/", **NORTH).status_code == 302


def test_unknown_reference_gets_the_same_answer_and_no_message(client, north_case,
                                                               django_capture_on_commit_callbacks):
    response = ask_code(client, "NOR-2026-999999", capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response["Location"].endswith("/track/code/")
    assert mail.outbox == []
    assert client.post("/ru/track/code/", {"code": "123456"}, **NORTH).status_code == 400


def test_requests_are_rate_limited_per_client(client, north_case,
                                              django_capture_on_commit_callbacks):
    statuses = [ask_code(client, "NOR-2026-999999",
                         capture=django_capture_on_commit_callbacks).status_code
                for _ in range(tracking.REQUESTS_PER_CLIENT + 1)]
    assert statuses[:-1] == [302] * tracking.REQUESTS_PER_CLIENT
    assert statuses[-1] == 400


def test_codes_per_case_are_limited(client, north_case, django_capture_on_commit_callbacks):
    for _ in range(tracking.CODES_PER_CASE):
        assert ask_code(client, north_case.reference,
                        capture=django_capture_on_commit_callbacks).status_code == 302
    response = ask_code(client, north_case.reference, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert len(mail.outbox) == tracking.CODES_PER_CASE


def test_status_page_needs_a_code_first(client, north_case):
    assert client.get("/ru/track/status/", **NORTH).status_code == 302
    assert client.get("/ru/track/code/", **NORTH).status_code == 302


def test_a_reference_of_tenant_a_is_unknown_on_tenant_b(client, north_case,
                                                        django_capture_on_commit_callbacks):
    ask_code(client, north_case.reference, host=SOUTH, capture=django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_code_by_sms_when_only_a_phone_was_given(tenant_a, django_capture_on_commit_callbacks):
    from services.notifications.models import Message

    with tenant_context(tenant_a):
        service = make_service(spec=SIMPLE)
        draft = ApplicationDraft.objects.create(
            service=service, form_version=service.current_version(),
            answers={"purpose": "x", "applicant_name": "Ира", "applicant_email": "",
                     "applicant_phone": "+7 900 123 45 67"})
        case, _created = submit_application(draft.token)
        with django_capture_on_commit_callbacks(execute=True):
            tracking.request_code(case.reference, "10.0.0.1")
        message = Message.objects.get(topic=case.reference, key="tracking_code")
        assert message.channel == "sms" and re.search(r"\d{6}", message.body)
        assert TrackingCode.objects.get(case=case).sent_to == "sms"
