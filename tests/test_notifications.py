"""Notifications (services.notifications): templates and placeholders, the outbox, delivery
exactly once after commit, retries, tenant isolation, and a real broker outage."""

import logging
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from services.notifications import api, delivery
from services.notifications.api import messages_for, notify, render
from services.notifications.choices import Channel, MessageKind, Status, channels_for
from services.notifications.defaults import DEFAULT_TEMPLATES
from services.notifications.models import Message, NotificationTemplate
from services.notifications.placeholders import check
from services.notifications.sms import PermanentDeliveryError, SMSBackend
from services.notifications.tasks import deliver, resend_pending

from .factories import NORTH, MessageFactory

ROOT = Path(__file__).resolve().parent.parent
WAIT = 120  # seconds; readiness bound only, never a speed assertion

CONTEXT = {
    MessageKind.APPLICATION_RECEIVED: {"reference": "R-2026-0001", "service": "Справка",
                                       "url": "https://north.localhost/ru/track/",
                                       "applicant_name": "Анна"},
    MessageKind.STATUS_CHANGED: {"reference": "R-2026-0001", "service": "Справка",
                                 "status": "на рассмотрении",
                                 "url": "https://north.localhost/ru/track/",
                                 "applicant_name": "Анна"},
}


def _notify(topic="R-2026-0001", email="anna@example.com", phone="+7 912 345-67-89",
            key=MessageKind.APPLICATION_RECEIVED, language="ru"):
    return notify(key, language=language, context=CONTEXT[key], email=email, phone=phone,
                  topic=topic)


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Run tasks in-process (as the test settings do) even when conftest's session-wide
    celery_worker has pointed the app at a real broker earlier in the run; the tests that
    need a broker say so with the celery_on fixture."""
    from dgbox.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


# --- templates and placeholders ----------------------------------------------------------


def test_defaults_exist_for_every_kind_channel_and_language_and_are_valid():
    for kind in MessageKind:
        for channel in channels_for(kind):
            for language in ("ru", "en"):
                subject, body = DEFAULT_TEMPLATES[(kind, channel, language)]
                check(subject, kind)
                check(body, kind)
                template = NotificationTemplate(key=kind, channel=channel, language=language,
                                                subject=subject, body=body)
                template.clean()
                if channel == Channel.SMS:
                    assert not subject and len(body) <= 70, (kind, language)
                else:
                    assert subject and "{tenant_name}" in body, (kind, language)


def test_staff_messages_are_email_only():
    assert channels_for(MessageKind.STAFF_ESCALATION) == (Channel.EMAIL,)
    assert channels_for(MessageKind.STATUS_CHANGED) == (Channel.EMAIL, Channel.SMS)
    assert not any(key[0] == MessageKind.STAFF_ESCALATION and key[1] == Channel.SMS
                   for key in DEFAULT_TEMPLATES)
    with translation.override("en"):
        template = NotificationTemplate(key="staff_escalation", channel="sms", language="ru",
                                        body="{count}")
        with pytest.raises(ValidationError) as caught:
            template.clean()
    assert caught.value.message_dict["channel"] == [
        "“Deadlines need attention (staff)” messages are only sent by E-mail."]


@pytest.mark.django_db
def test_a_message_about_no_case_to_staff(tenant_a, django_capture_on_commit_callbacks):
    """notify() needs no case: a staff message has its own placeholders and topic."""
    context = {"count": 2, "references": "R-1, R-2", "cases": "R-1\n\nR-2",
               "url": "http://north.localhost/admin/cases/"}
    with tenant_context(tenant_a):
        with pytest.raises(ValueError, match="e-mail only"):
            notify("staff_escalation", language="ru", context=context, phone="+79123456789")
        with django_capture_on_commit_callbacks(execute=True):
            [message] = notify("staff_escalation", language="en", context=context,
                               email="worker@north.example", topic="escalation 2026-03-06")
        message.refresh_from_db()
        assert (message.status, message.key, message.topic) == (
            "sent", "staff_escalation", "escalation 2026-03-06")
    [sent] = mail.outbox
    assert sent.subject == "Deadlines need attention (2): R-1, R-2"
    assert sent.body.startswith("The deadlines of these cases need your attention:\n\nR-1")
    assert "All cases: http://north.localhost/admin/cases/" in sent.body
    assert "sent automatically by Северная область" in sent.body


@pytest.mark.django_db
def test_render_fills_placeholders_in_both_languages(tenant_a):
    context = {**CONTEXT[MessageKind.STATUS_CHANGED], "tenant_name": "Северная область"}
    with tenant_context(tenant_a):
        subject, body = render("status_changed", channel="email", language="ru",
                               context=context)
        assert subject == "Заявление R-2026-0001: на рассмотрении"
        assert body.startswith("Здравствуйте, Анна!")
        assert "«Справка» (R-2026-0001) изменился: на рассмотрении." in body
        assert body.endswith("https://north.localhost/ru/track/\n\nСеверная область")
        context.update(status="under review", service="Certificate", applicant_name="Anna")
        subject, body = render("status_changed", channel="email", language="en",
                               context=context)
        assert subject == "Application R-2026-0001: under review"
        assert "for Certificate (R-2026-0001) has changed: under review." in body
        _subject, sms = render("status_changed", channel="sms", language="en", context=context)
        assert sms == "Application R-2026-0001: under review. https://north.localhost/ru/track/"


@pytest.mark.django_db
def test_tenant_override_replaces_the_default_in_that_tenant_only(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        template = NotificationTemplate(
            key="application_received", channel="email", language="ru",
            subject="Ваше заявление {reference}",
            body="{applicant_name}, заявление {reference} принято. {{без подстановки}}")
        template.full_clean()
        template.save()
        with translation.override("ru"):
            subject, body = render("application_received", channel="email", language="ru",
                                   context={**CONTEXT["application_received"],
                                            "tenant_name": "X"})
        assert subject == "Ваше заявление R-2026-0001"
        assert body == "Анна, заявление R-2026-0001 принято. {без подстановки}"
        # The other channel and language keep the defaults.
        _subject, sms = render("application_received", channel="sms", language="ru",
                               context={**CONTEXT["application_received"], "tenant_name": "X"})
        assert sms == "Заявление R-2026-0001 получено. https://north.localhost/ru/track/"
    with tenant_context(tenant_b):
        assert not NotificationTemplate.objects.exists()
        subject, _body = render("application_received", channel="email", language="ru",
                                context={**CONTEXT["application_received"], "tenant_name": "X"})
        assert subject == "Заявление R-2026-0001 получено"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"body": "Заявление {referense}"}, "body", "Unknown placeholder {referense}"),
    ({"body": "Оплата {amount}"}, "body", "This message can use: {reference}"),
    ({"subject": "Заявление {reference"}, "subject", "Unmatched “{” at character 11"),
    ({"body": "Заявление reference}"}, "body", "Unmatched “}”"),
    ({"body": "Код {code.upper}"}, "body", "“{code.upper}” is not a placeholder"),
    ({"body": "{reference!r} {reference:>9}"}, "body", "is not a placeholder"),
    ({"body": "{}"}, "body", "“{}” is not a placeholder"),
    ({"subject": ""}, "subject", "An e-mail needs a subject."),
    ({"subject": "Две\nстроки"}, "subject", "single line"),
    ({"channel": "sms", "subject": "Тема"}, "subject", "SMS messages have no subject"),
    ({"channel": "sms", "subject": "", "body": "x" * 321}, "body", "at most 320 characters"),
])
def test_invalid_templates_are_refused_with_a_field_error(fields, field, message):
    values = {"key": "application_received", "channel": "email", "language": "ru",
              "subject": "Заявление {reference}", "body": "Текст {reference}", **fields}
    with translation.override("en"):
        with pytest.raises(ValidationError) as refused:
            NotificationTemplate(**values).clean()
        assert message in " ".join(refused.value.message_dict[field])


@pytest.mark.django_db
def test_editor_gets_the_error_in_the_admin_and_can_save_a_valid_template(client, tenant_a):
    from django.contrib.auth import get_user_model

    with tenant_context(tenant_a):
        client.force_login(get_user_model().objects.get(email="admin@north.example"))
    url = "/admin/snippets/notifications/notificationtemplate/add/"
    assert client.get(url, **NORTH).status_code == 200
    form = {"key": "decision_made", "channel": "sms", "language": "en", "subject": "",
            "body": "Decision {reference}: {verdict}"}
    refused = client.post(url, form, **NORTH)
    assert refused.status_code == 200 and "{verdict}" in refused.content.decode()
    saved = client.post(url, {**form, "body": "Decision {reference}: {status}"}, **NORTH)
    assert saved.status_code == 302
    with tenant_context(tenant_a):
        assert NotificationTemplate.objects.get().body == "Decision {reference}: {status}"
        message = MessageFactory(channel="sms", recipient="+79123456789",
                                 key="decision_made", language="en", body="x")
    listing = client.get("/admin/snippets/notifications/message/", **NORTH)
    assert listing.status_code == 200
    inspect = f"/admin/snippets/notifications/message/inspect/{message.pk}/"
    assert client.get(inspect, **NORTH).status_code == 200
    # Messages are a record: not editable, not deletable, not addable, even by a superuser.
    for path in (f"edit/{message.pk}/", f"delete/{message.pk}/", "add/"):
        response = client.get(f"/admin/snippets/notifications/message/{path}", **NORTH)
        assert response.status_code in (302, 403), path


# --- notify(): checks before anything is written ------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("kwargs", "field"), [
    ({"email": "anna@"}, "email"),
    ({"email": "anna example.com"}, "email"),
    ({"phone": "12345"}, "phone"),
    ({"phone": "8 912 345-67-89"}, "phone"),  # no country code: ambiguous
    ({"phone": "+7 912 345-67-89 доб. 2"}, "phone"),
])
def test_invalid_recipients_are_refused_and_nothing_is_written(tenant_a, kwargs, field):
    with tenant_context(tenant_a), translation.override("en"):
        args = {"email": "anna@example.com", "phone": "+79123456789", **kwargs}
        with pytest.raises(ValidationError) as refused:
            _notify(**args)
        assert list(refused.value.message_dict) == [field]
        assert "for example" in refused.value.message_dict[field][0]
        assert not Message.objects.exists()


@pytest.mark.django_db
def test_recipients_are_normalised_and_a_missing_one_skips_its_channel(tenant_a):
    with tenant_context(tenant_a):
        [sms] = _notify(email=None, phone="+7 (912) 345-67-89")
        assert (sms.channel, sms.recipient) == ("sms", "+79123456789")
        [email] = _notify(email=" anna@example.com ", phone="")
        assert (email.channel, email.recipient) == ("email", "anna@example.com")
        assert _notify(email=None, phone=None) == []


@pytest.mark.django_db
def test_programming_errors_are_refused_clearly(tenant_a):
    context = CONTEXT["application_received"]
    with tenant_context(tenant_a):
        with pytest.raises(ValueError, match="Unknown notification kind 'welcome'"):
            notify("welcome", language="ru", context=context, email="a@example.com")
        with pytest.raises(ValueError, match="Unsupported language 'de'"):
            notify("application_received", language="de", context=context,
                   email="a@example.com")
        with pytest.raises(ValueError, match="missing url; not allowed amount"):
            notify("application_received", language="ru", email="a@example.com",
                   context={**{k: v for k, v in context.items() if k != "url"}, "amount": 1})
        [message] = notify("application_received", language="en-GB", context=context,
                           email="a@example.com")
        assert message.language == "en"
    connection.set_schema_to_public()
    with pytest.raises(RuntimeError, match="inside a tenant"):
        notify("application_received", language="ru", context=context, email="a@example.com")


# --- sending: after commit, exactly once ---------------------------------------------------

@pytest.mark.django_db
def test_nothing_is_written_or_sent_when_the_transaction_rolls_back(
        tenant_a, sms_log, read_sms_log, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError, match="case could not be saved"):
                with transaction.atomic():
                    assert len(_notify()) == 2
                    raise RuntimeError("case could not be saved")
        assert callbacks == []
        assert not Message.objects.exists()
    assert mail.outbox == [] and read_sms_log(sms_log) == []


@pytest.mark.django_db
def test_sent_once_after_commit_by_email_and_sms(tenant_a, sms_log, read_sms_log,
                                                 django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            email, sms = _notify(topic="R-2026-0042")
            # Written, but nothing sent before the caller's transaction commits.
            assert Message.objects.filter(status=Status.PENDING).count() == 2
            assert mail.outbox == [] and read_sms_log(sms_log) == []
        assert len(callbacks) == 1
        email.refresh_from_db()
        sms.refresh_from_db()
    assert (email.status, email.attempts, sms.status, sms.attempts) == ("sent", 1, "sent", 1)
    assert email.sent_at and sms.sent_at and not email.last_error
    [sent] = mail.outbox
    assert sent.to == ["anna@example.com"]
    assert sent.subject == "Заявление R-2026-0001 получено"
    assert "Мы получили ваше заявление «Справка»" in sent.body
    assert sent.body.endswith("Северная область")  # tenant_name from the current tenant
    assert "Северная область" in sent.from_email
    assert sent.extra_headers["Message-ID"] == email.provider_message_id
    [line] = read_sms_log(sms_log)
    assert line["tenant"] == "north" and line["phone"] == "+79123456789"
    assert line["text"] == "Заявление R-2026-0001 получено. https://north.localhost/ru/track/"
    assert line["id"] == sms.provider_message_id and line["time"]


@pytest.mark.django_db
def test_one_notice_is_one_task_and_each_channel_goes_out_once(
        tenant_a, sms_log, read_sms_log, private_redis, celery_on, drain,
        django_capture_on_commit_callbacks):
    """A notice by e-mail and SMS (a submission's receipts) is published as one task naming
    both messages (one publish, not one per channel); run twice, as a broker redelivers it
    after a worker died, each message still goes out once. A single message stays a
    `notifications.deliver` task of its own."""
    queue = f"dgbox-notify-test-{os.getpid()}"
    private_redis.start()
    with celery_on(private_redis.url, queue) as app, tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=True):
            email, sms = _notify(topic="R-2026-0043")
        queued = drain(app, queue)
        assert queued == [("notifications.deliver_all", "north", ([email.pk, sms.pk],))]
        for name, _schema, args in queued * 2:
            app.tasks[name].apply(args)
        assert [(m.status, m.attempts) for m in messages_for("R-2026-0043")] == [
            ("sent", 1), ("sent", 1)]
        with django_capture_on_commit_callbacks(execute=True):
            [alone] = _notify(topic="R-2026-0044", phone=None)
        assert drain(app, queue) == [("notifications.deliver", "north", (alone.pk,))]
    assert len(mail.outbox) == 1 and len(read_sms_log(sms_log)) == 1


@pytest.mark.django_db
def test_delivering_twice_sends_one_email(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False):
            [message] = _notify(phone=None)
        assert deliver.apply(args=(message.pk,)).get() == "sent"
        assert deliver.apply(args=(message.pk,)).get() == "skipped"
        assert delivery.deliver_message(message.pk) == "skipped"
        message.refresh_from_db()
    assert len(mail.outbox) == 1 and message.attempts == 1


@pytest.mark.django_db
def test_messages_for_a_topic_and_tenant_isolation(tenant_a, tenant_b):
    topic = f"R-{uuid.uuid4().hex[:8]}"
    with tenant_context(tenant_a):
        first = _notify(topic=topic)
        second = _notify(topic=topic, key=MessageKind.STATUS_CHANGED, phone=None)
        _notify(topic="R-other")
        assert list(messages_for(topic)) == [*first, *second]
    with tenant_context(tenant_b):
        assert not messages_for(topic).exists()
        assert not Message.objects.filter(pk__in=[m.pk for m in first]).exists()
        _notify(topic=topic, phone=None)
        assert messages_for(topic).count() == 1
    with tenant_context(tenant_a):
        assert messages_for(topic).count() == 3


# --- secrets are masked in the stored copy once delivered ----------------------------------

CODE_CONTEXT = {"reference": "R-2026-0007", "service": "Справка", "code": "123456",
                "url": "https://north.localhost/ru/track/", "applicant_name": "Анна"}


def finds_the_code(message):
    return ["123456"]


def finder_that_breaks(message):
    raise RuntimeError("finder broke")


@pytest.mark.django_db
def test_secrets_are_masked_only_once_a_message_is_finished(tenant_a, monkeypatch, settings,
                                                            django_capture_on_commit_callbacks):
    monkeypatch.setitem(api.SECRET_FINDERS, MessageKind.TRACKING_CODE,
                        "tests.test_notifications.finds_the_code")
    settings.DGBOX_SMS_BACKEND = "tests.test_notifications.FlakySMSBackend"
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False):
            email, sms = notify("tracking_code", language="en", context=CODE_CONTEXT,
                                email="anna@example.com", phone="+79123456789",
                                topic="R-2026-0007")
            [receipt] = _notify(phone=None)
        assert deliver.apply(args=(sms.pk,)).get() == "pending"  # gateway down: retried
        assert deliver.apply(args=(email.pk,)).get() == "sent"
        assert deliver.apply(args=(receipt.pk,)).get() == "sent"
        # A second pass (the daily sweep) changes nothing more.
        assert api.redact_finished(Message.objects.all()) == 0
        for message in (email, sms, receipt):
            message.refresh_from_db()
    assert "123456" in mail.outbox[0].body and email.body == mail.outbox[0].body.replace(
        "123456", api.REDACTED)
    assert "123456" in sms.body and sms.status == "pending"  # the retry still has it
    assert receipt.body == mail.outbox[1].body  # a kind without secrets is never changed


@pytest.mark.django_db
def test_a_masking_failure_never_undoes_or_repeats_a_delivery(tenant_a, monkeypatch, caplog,
                                                              django_capture_on_commit_callbacks):
    monkeypatch.setitem(api.SECRET_FINDERS, MessageKind.TRACKING_CODE,
                        "tests.test_notifications.finder_that_breaks")
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False):
            [message] = notify("tracking_code", language="ru", context=CODE_CONTEXT,
                               email="anna@example.com", topic="R-2026-0007")
        with caplog.at_level(logging.ERROR):
            assert deliver.apply(args=(message.pk,)).get() == "sent"
        assert deliver.apply(args=(message.pk,)).get() == "skipped"
        message.refresh_from_db()
    assert message.status == "sent" and "123456" in message.body  # left for the sweep
    assert len(mail.outbox) == 1 and "123456" in mail.outbox[0].body
    assert "could not be masked" in caplog.text


# --- failures and retries -------------------------------------------------------------------

class FlakySMSBackend(SMSBackend):
    def send(self, phone, text):
        raise ConnectionError("gateway timed out")


class RefusingSMSBackend(SMSBackend):
    def send(self, phone, text):
        raise PermanentDeliveryError("number does not exist")


@pytest.mark.django_db
def test_transient_failures_retry_with_backoff_then_fail(tenant_a, settings):
    settings.DGBOX_SMS_BACKEND = "tests.test_notifications.FlakySMSBackend"
    with tenant_context(tenant_a):
        [message] = _notify(email=None)
        before = timezone.now()
        assert delivery.deliver_message(message.pk) == "pending"
        message.refresh_from_db()
        assert message.attempts == 1 and message.last_error == "ConnectionError: gateway timed out"
        assert before + timedelta(minutes=1) <= message.next_attempt_at
        assert message.next_attempt_at <= timezone.now() + timedelta(minutes=1)
        for _attempt in range(2, delivery.MAX_ATTEMPTS):
            assert delivery.deliver_message(message.pk) == "pending"
        message.refresh_from_db()
        assert message.next_attempt_at - timezone.now() > timedelta(minutes=59)  # capped wait
        assert delivery.deliver_message(message.pk) == "failed"
        message.refresh_from_db()
        assert (message.status, message.attempts) == ("failed", delivery.MAX_ATTEMPTS)
        assert delivery.deliver_message(message.pk) == "skipped"


@pytest.mark.django_db
def test_permanent_failure_is_not_retried(tenant_a, settings):
    settings.DGBOX_SMS_BACKEND = "tests.test_notifications.RefusingSMSBackend"
    with tenant_context(tenant_a):
        [message] = _notify(email=None)
        assert delivery.deliver_message(message.pk) == "failed"
        message.refresh_from_db()
    assert message.attempts == 1
    assert message.last_error == "PermanentDeliveryError: number does not exist"


@pytest.mark.django_db
def test_resend_pending_queues_only_due_messages(tenant_a, sms_log, read_sms_log,
                                                 django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=False):  # as if the broker lost them
            due, not_yet = _notify(topic="R-due")
            [sent] = _notify(topic="R-sent", phone=None)
        past = timezone.now() - timedelta(seconds=1)
        Message.objects.filter(pk__in=[due.pk, sent.pk]).update(next_attempt_at=past)
        Message.objects.filter(pk=sent.pk).update(status=Status.SENT)
        with django_capture_on_commit_callbacks(execute=True):
            assert resend_pending() == 1
        due.refresh_from_db()
        not_yet.refresh_from_db()
        assert due.status == "sent" and not_yet.status == "pending"
        assert resend_pending() == 0
    [sent_mail] = mail.outbox
    assert sent_mail.to == [due.recipient] and read_sms_log(sms_log) == []


@pytest.mark.django_db
def test_broker_down_at_commit_leaves_the_message_pending_and_due(
        tenant_a, caplog, django_capture_on_commit_callbacks, celery_on, free_port):
    with celery_on(f"redis://127.0.0.1:{free_port}/0", "nobody-listens"), \
            tenant_context(tenant_a), caplog.at_level(logging.WARNING):
        with django_capture_on_commit_callbacks(execute=True):
            messages = _notify()
        assert "stay pending" in caplog.text
        assert {m.pk for m in Message.objects.due()} == {m.pk for m in messages}
        with django_capture_on_commit_callbacks(execute=True):
            assert resend_pending() == 2  # still no broker: claimed, then due again
        assert Message.objects.due().count() == 2
    assert mail.outbox == []


# --- a real outage: Redis stopped and restarted, a real worker ------------------------------

def _start_worker(broker_url, queue, state_dir: Path, log_path: Path, database_url):
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": broker_url,
        "DGBOX_STATE_DIR": str(state_dir),
        "DGBOX_SMS_BACKEND": "services.notifications.sms.LogSMSBackend",
        "DGBOX_LOG_LEVEL": "WARNING",
        "DGBOX_CELERY_QUEUE": queue,
        "DGBOX_CELERY_EAGER": "0",
    })
    log = open(log_path, "w")  # closed by the caller through proc.log
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dgbox", "worker", "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


@pytest.mark.worker
def test_sent_once_after_commit_and_retried_when_redis_is_stopped_and_restarted(
        session_tenants, django_db_blocker, tmp_path, caplog, private_redis, celery_on,
        database_url, read_sms_log):
    """Issue #4: "notifications sent once, after commit, retried when Redis is stopped and
    restarted". Committed data (the worker is another process), removed afterwards."""
    import redis

    tenant = session_tenants["a"]
    topic = f"R-outage-{uuid.uuid4().hex[:8]}"
    queue = f"dgbox-notifications-test-{os.getpid()}"
    broker = private_redis
    worker = None
    broker.start()
    try:
        with django_db_blocker.unblock(), celery_on(broker.url, queue):
            broker.stop()
            # 1. Broker down when the caller commits: no error, nothing lost, due for resend.
            with tenant_context(tenant), caplog.at_level(logging.WARNING):
                with transaction.atomic():
                    messages = _notify(topic=topic)
                assert "stay pending" in caplog.text
                ids = {m.pk for m in messages}
                assert set(Message.objects.due().values_list("pk", flat=True)) == ids
                assert all(m.attempts == 0 for m in messages_for(topic))
            # 2. Redis is back: the periodic resend queues both on that broker.
            broker.start()
            with tenant_context(tenant):
                assert resend_pending() == 2
            assert redis.Redis.from_url(broker.url).llen(queue) == 2
            # 3. A real worker consumes them and sends each once.
            worker = _start_worker(broker.url, queue, tmp_path, tmp_path / "worker.log",
                                   database_url)
            deadline = time.monotonic() + WAIT
            with tenant_context(tenant):
                while messages_for(topic).filter(status=Status.SENT).count() < 2:
                    assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                    assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                    time.sleep(0.2)
                sent = list(messages_for(topic))
                assert [(m.status, m.attempts) for m in sent] == [("sent", 1), ("sent", 1)]
                [line] = read_sms_log(tmp_path / "sms.log")
                assert line["tenant"] == "north"
                assert line["id"] == next(m.provider_message_id for m in sent if m.channel == "sms")
                # Once: nothing left to resend, and a duplicate wake-up sends nothing.
                assert resend_pending() == 0
                assert delivery.deliver_message(sent[0].pk) == "skipped"
            assert redis.Redis.from_url(broker.url).llen(queue) == 0
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
            worker.log.close()
        broker.stop()
        with django_db_blocker.unblock(), tenant_context(tenant):
            Message.objects.filter(topic=topic).delete()
