"""Tracking an application: reference + one-time code, wrong codes refused and rate limited,
the status page shows the history in plain words, never cached, nothing personal in URLs; the
code is delivered, then masked in the stored message."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from services.applications import cleanup, tracking
from services.cases.engine import take
from services.models import TrackingCode
from services.notifications import delivery
from services.notifications.api import REDACTED
from services.notifications.models import Message
from services.notifications.sms import PermanentDeliveryError, SMSBackend
from services.notifications.tasks import resend_pending

from .factories import NORTH, SOUTH, OnlineServiceFactory, SubmittedCaseFactory

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
        service = OnlineServiceFactory(spec=SIMPLE)
        with django_capture_on_commit_callbacks(execute=True):
            case = SubmittedCaseFactory(service=service, answers={"purpose": "x"},
                                        applicant_name="Пётр",
                                        applicant_email="petr@example.org")
    connection.set_schema_to_public()
    mail.outbox.clear()
    return case


def ask_code(client, reference, host=NORTH, capture=None):
    with capture(execute=True):
        response = client.post("/ru/track/", {"reference": reference}, **host)
    return response


def code_in(text):
    return re.search(r"(?<![-\d])(\d{6})(?![-\d])", text).group(1)


def last_code():
    return code_in(mail.outbox[-1].body)


def stored_code_message(tenant, reference):
    with tenant_context(tenant):
        return Message.objects.get(topic=reference, key="tracking_code")


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


def phone_only_case(tenant):
    with tenant_context(tenant):
        service = OnlineServiceFactory(spec=SIMPLE)
        # Its receipt is never sent here.
        case = SubmittedCaseFactory(service=service, answers={"purpose": "x"},
                                    applicant_name="Ира", applicant_email="",
                                    applicant_phone="+7 900 123 45 67")
    return case


def test_code_by_sms_when_only_a_phone_was_given(tenant_a, sms_log, read_sms_log,
                                                 django_capture_on_commit_callbacks):
    case = phone_only_case(tenant_a)
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=True):
            tracking.request_code(case.reference, "10.0.0.1")
        [sms] = read_sms_log(sms_log)
        code = code_in(sms["text"])
        assert sms["phone"] == "+79001234567" and case.reference in sms["text"]
        assert TrackingCode.objects.get(case=case).sent_to == "sms"
        message = Message.objects.get(topic=case.reference, key="tracking_code")
        # Delivered with the code; stored without it, the rest kept as a record.
        assert (message.channel, message.status) == ("sms", "sent")
        assert message.body == sms["text"].replace(code, REDACTED)
        assert code not in message.body
        assert tracking.verify_code(case.reference, code, "10.0.0.1") == case


# --- the code is masked in the stored message once delivered -------------------------------

def test_the_emailed_code_is_masked_in_the_stored_message(client, tenant_a, north_case,
                                                          django_capture_on_commit_callbacks):
    ask_code(client, north_case.reference, capture=django_capture_on_commit_callbacks)
    sent = mail.outbox[-1]
    code = last_code()
    message = stored_code_message(tenant_a, north_case.reference)
    assert message.status == "sent" and message.sent_at
    assert code not in message.body and code not in message.subject
    assert message.body == sent.body.replace(code, REDACTED)
    assert message.subject == sent.subject and north_case.reference in message.subject
    # The reference's own six digits are not a code: only the code is masked.
    assert message.body.count(REDACTED) == 1 and north_case.reference in message.body
    # The applicant's code works as before.
    assert client.post("/ru/track/code/", {"code": code}, **NORTH).status_code == 302
    # Other messages about the case are left as they were.
    with tenant_context(tenant_a):
        receipt = Message.objects.get(topic=north_case.reference, key="application_received")
    assert REDACTED not in receipt.body and north_case.reference in receipt.body


class UnreachableEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionError("mail server unreachable")


class RefusingSMSBackend(SMSBackend):
    def send(self, phone, text):
        raise PermanentDeliveryError("number does not exist")


def test_a_code_waiting_for_a_retry_is_kept_and_the_retry_delivers_it(
        client, tenant_a, north_case, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.test_tracking.UnreachableEmailBackend"
    ask_code(client, north_case.reference, capture=django_capture_on_commit_callbacks)
    assert mail.outbox == []
    waiting = stored_code_message(tenant_a, north_case.reference)
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert REDACTED not in waiting.body

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with tenant_context(tenant_a):
        Message.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            assert resend_pending() == 1
    [sent] = mail.outbox
    code = last_code()
    assert sent.body == waiting.body  # the retry sent the stored text, code included
    message = stored_code_message(tenant_a, north_case.reference)
    assert (message.status, message.attempts) == ("sent", 2)
    assert code not in message.body and message.body == sent.body.replace(code, REDACTED)
    assert client.post("/ru/track/code/", {"code": code}, **NORTH).status_code == 302


def test_a_code_that_could_not_be_delivered_is_masked_too(tenant_a, settings,
                                                          django_capture_on_commit_callbacks):
    settings.DGBOX_SMS_BACKEND = "tests.test_tracking.RefusingSMSBackend"
    case = phone_only_case(tenant_a)
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=True):
            tracking.request_code(case.reference, "10.0.0.1")
        message = Message.objects.get(topic=case.reference, key="tracking_code")
        assert message.status == "failed"
        assert REDACTED in message.body and tracking.codes_in_message(message) == []


def test_the_daily_sweep_masks_codes_that_were_sent_unmasked(tenant_a, sms_log, read_sms_log,
                                                             django_capture_on_commit_callbacks):
    """A message sent without the task's masking (before it existed, or masking failed)."""
    case = phone_only_case(tenant_a)
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False):
            tracking.request_code(case.reference, "10.0.0.1")
        message = Message.objects.get(topic=case.reference, key="tracking_code")
        assert delivery.deliver_message(message.pk) == "sent"
        [sms] = read_sms_log(sms_log)
        code = code_in(sms["text"])
        message.refresh_from_db()
        assert code in message.body
        assert cleanup.redact_delivered_codes() == 1
        message.refresh_from_db()
        assert message.body == sms["text"].replace(code, REDACTED)
        assert cleanup.redact_delivered_codes() == 0  # done once
