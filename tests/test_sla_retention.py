"""Deadline escalation (SLA flags in working days, staff e-mails without personal data, run in
every tenant's schema by the fan-out) and retention (personal data of old closed cases erased,
files deleted from S3, statistics kept). Frozen dates are passed in, never the real clock."""

import logging
import os
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from celery import current_app
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.db.models import Count
from django_tenants.utils import tenant_context

from dgbox.celery import TenantRequiredError
from services.applications.submission import next_reference
from services.cases import engine, escalation, retention, sla
from services.models import (
    ApplicationDraft,
    AutomatedDecision,
    Case,
    CaseEvent,
    CaseNote,
    TrackingCode,
    UploadedFile,
)
from services.notifications.models import Message, NotificationTemplate
from services.notifications.tasks import resend_pending
from services.tasks import apply_retention as retention_task
from tenants.tasks import fan_out

from .factories import CaseFactory, MessageFactory, OnlineServiceFactory, StaffFactory

pytestmark = pytest.mark.django_db
SIMPLE = [{"type": "text", "name": "purpose", "label": "Purpose", "required": True}]
FRI = date(2026, 3, 6)  # a Friday
MON, TUE, WED, THU = (date(2026, 3, d) for d in (9, 10, 11, 12))
NAME, EMAIL, PHONE = "Анна Иванова", "anna@example.org", "+79001234567"


@pytest.fixture
def north(tenant_a):
    with tenant_context(tenant_a):
        yield OnlineServiceFactory(spec=SIMPLE)


def new_case(service, *, due=None, **fields):
    """A case being reviewed, straight into the table with a real reference and no workflow
    version (engine.start gives it one)."""
    fields = {"status": "in_review", "answers": {"purpose": "дом"}, "applicant_name": NAME,
              "applicant_email": EMAIL, "applicant_phone": PHONE, "due_date": due,
              "workflow_version": None, **fields}
    return CaseFactory(reference=next_reference(), service=service, **fields)


def submitted_on(service, day, working_days):
    """A case started by the workflow engine as if submitted on `day`."""
    service.sla_days = working_days
    case = new_case(service, status="received")
    with mock.patch("services.cases.engine.local_today", return_value=day):
        engine.start(case)
    return case


def flags(*cases):
    return [Case.objects.get(pk=c.pk).sla_flag for c in cases]


def staff(username, *groups, email=True, active=True, domain="north.example"):
    return StaffFactory(username=username, email=f"{username}@{domain}" if email else "",
                        is_active=active, groups=groups)


def escalated_events():
    return list(CaseEvent.objects.filter(kind=CaseEvent.Kind.ESCALATED)
                .order_by("id").values_list("case_id", "data"))


# --- SLA flags -------------------------------------------------------------------------------
def test_flag_ranges_give_exactly_what_sla_flag_gives(north, settings):
    """One UPDATE per flag value must agree with services.cases.sla.flag() case by case, across
    weekends and a holiday."""
    settings.DGBOX_HOLIDAYS = ["2026-03-09", "2026-03-23"]
    cases = [new_case(north, due=FRI + timedelta(days=n)) for n in range(-3, 21)]
    escalation.escalate(FRI)
    for case in cases:
        assert Case.objects.get(pk=case.pk).sla_flag == sla.flag(case.due_date, FRI), \
            case.due_date


def test_deadlines_count_working_days_across_weekends(north):
    # Friday + 2 working days is Tuesday; with Monday and Tuesday left it is nearing at once.
    short = submitted_on(north, FRI, 2)
    assert short.due_date == TUE
    # Wednesday + 5 working days is next Wednesday: on Friday 3 working days remain (the
    # weekend does not count), on Monday 2 (nearing), on Thursday it is overdue.
    long = submitted_on(north, date(2026, 3, 4), 5)
    assert long.due_date == WED
    escalation.escalate(FRI)
    assert flags(short, long) == ["nearing", ""]
    escalation.escalate(date(2026, 3, 7))  # Saturday: nothing changes
    assert flags(short, long) == ["nearing", ""]
    escalation.escalate(MON)
    assert flags(short, long) == ["nearing", "nearing"]
    escalation.escalate(WED)
    assert flags(short, long) == ["overdue", "nearing"]
    escalation.escalate(THU)
    assert flags(short, long) == ["overdue", "overdue"]


def test_today_is_the_tenants_date(tenant_a):
    evening_utc = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
    assert escalation.today(evening_utc, SimpleNamespace(time_zone="Europe/Moscow")) == FRI
    assert escalation.today(evening_utc, SimpleNamespace(time_zone="Asia/Vladivostok")) == \
        date(2026, 3, 7)
    assert escalation.today(evening_utc, SimpleNamespace(time_zone="Mars/Base")) == FRI
    with tenant_context(tenant_a):
        assert escalation.today(evening_utc) == FRI  # tenant_a keeps Europe/Moscow


# --- escalation ------------------------------------------------------------------------------
def test_escalation_records_events_and_emails_staff_once(north, tenant_a,
                                                         django_capture_on_commit_callbacks):
    staff("worker", "Case workers")
    staff("senior", "Senior reviewers")
    staff("gone", "Case workers", active=False)
    staff("nomail", "Case workers", email=False)
    assignee = staff("assignee")
    nearing = new_case(north, due=TUE, assignee=assignee)
    overdue = new_case(north, due=date(2026, 3, 5), group="Senior reviewers")
    paused = new_case(north, due=date(2026, 3, 5), status="more_info",
                      paused_since=date(2026, 3, 2))
    closed = new_case(north, due=date(2026, 3, 5), status="approved",
                      closed_at=datetime(2026, 3, 5, 9, tzinfo=UTC))
    on_time = new_case(north, due=date(2026, 3, 20))
    moved = new_case(north, due=date(2026, 3, 20), sla_flag="nearing")  # deadline moved on
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = escalation.escalate(FRI)
    assert result == {"overdue": 1, "nearing": 1, "cleared": 1}
    assert flags(nearing, overdue, paused, closed, on_time, moved) == [
        "nearing", "overdue", "", "", "", ""]
    assert sorted(escalated_events()) == [
        (nearing.pk, {"flag": "nearing", "due": "2026-03-10"}),
        (overdue.pk, {"flag": "overdue", "due": "2026-03-05"})]
    sent = {m.to[0]: m for m in mail.outbox}
    assert set(sent) == {"worker@north.example", "assignee@north.example",
                         "senior@north.example"}
    for address, case in (("worker@north.example", nearing),
                          ("assignee@north.example", nearing),
                          ("senior@north.example", overdue)):
        message = sent[address]
        assert case.reference in message.subject and case.reference in message.body
        assert north.page.title in message.body
        assert f"http://north.localhost/admin/cases/{case.pk}/" in message.body
        assert "10.03.2026" in message.body or "05.03.2026" in message.body
        for personal in (NAME, "Анна", EMAIL, PHONE, "дом"):
            assert personal not in message.subject + message.body

    # Idempotent: the same day again changes nothing and sends nothing.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert escalation.escalate(FRI) == {"overdue": 0, "nearing": 0, "cleared": 0}
    assert mail.outbox == [] and len(escalated_events()) == 2

    # Wednesday: the nearing case is now overdue: one more event and message per person.
    with django_capture_on_commit_callbacks(execute=True):
        escalation.escalate(WED)
    assert escalated_events()[-1] == (nearing.pk, {"flag": "overdue", "due": "2026-03-10"})
    assert sorted(m.to[0] for m in mail.outbox) == ["assignee@north.example",
                                                    "worker@north.example"]


def test_one_message_per_person_lists_all_their_cases(north,
                                                      django_capture_on_commit_callbacks):
    staff("worker", "Case workers")
    cases = [new_case(north, due=date(2026, 3, 2)) for _ in range(3)]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        escalation.escalate(FRI)
    assert len(mail.outbox) == 1
    assert all(case.reference in mail.outbox[0].body for case in cases)


def test_fan_out_escalates_in_every_tenants_schema(tenant_a, tenant_b,
                                                   django_capture_on_commit_callbacks):
    """The periodic job reaches each active tenant's own schema, not only the public one."""
    created = {}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            staff("worker", "Case workers", domain=f"{tenant.slug}.example")
            service = OnlineServiceFactory(spec=SIMPLE)
            today = escalation.today()
            created[tenant.schema_name] = (new_case(service, due=today - timedelta(days=30)),
                                           new_case(service, due=today))
    connection.set_schema_to_public()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sent = fan_out.apply(args=("services.escalate_deadlines",)).get()
    assert {tenant_a.schema_name, tenant_b.schema_name} <= set(sent)
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            late, due_today = created[tenant.schema_name]
            assert flags(late, due_today) == ["overdue", "nearing"]
            assert CaseEvent.objects.filter(kind=CaseEvent.Kind.ESCALATED).count() == 2
    # Each tenant's own staff hear about their own cases only.
    assert sorted(m.to[0] for m in mail.outbox) == ["worker@north.example",
                                                    "worker@south.example"]
    for message in mail.outbox:
        schema = message.to[0].split("@")[1].split(".")[0]
        assert all(c.reference in message.body for c in created[schema])


def staff_messages():
    return Message.objects.filter(key="staff_escalation").order_by("recipient")


def test_staff_messages_are_written_to_the_outbox_with_the_escalation(
        north, django_capture_on_commit_callbacks):
    """The e-mails are outbox rows written in escalate()'s transaction: pending until it
    commits, sent once after, never written again by a second run; an invalid address is
    skipped without undoing the run."""
    staff("worker", "Case workers")
    broken = staff("broken", "Case workers")
    get_user_model().objects.filter(pk=broken.pk).update(email="not an address")
    cases = [new_case(north, due=date(2026, 3, 2)), new_case(north, due=TUE)]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert escalation.escalate(FRI) == {"overdue": 1, "nearing": 1, "cleared": 0}
    [message] = staff_messages()
    assert (message.status, message.recipient, message.channel, message.language,
            message.topic) == ("pending", "worker@north.example", "email", "ru",
                               "escalation 2026-03-06")
    assert message.subject == f"Сроки по заявлениям (2): {cases[0].reference}, " \
                              f"{cases[1].reference}"
    assert "02.03.2026 (срок истёк)" in message.body
    assert "10.03.2026 (срок подходит к концу)" in message.body
    assert "Все заявления: http://north.localhost/admin/cases/" in message.body
    for personal in (NAME, EMAIL, PHONE, "дом"):
        assert personal not in message.subject + message.body
    assert mail.outbox == []  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)
    assert [m.to for m in mail.outbox] == [["worker@north.example"]]
    with django_capture_on_commit_callbacks(execute=True):
        assert escalation.escalate(FRI) == {"overdue": 0, "nearing": 0, "cleared": 0}
    assert staff_messages().count() == 1 and len(mail.outbox) == 1


def test_escalation_e_mails_survive_a_broker_outage_and_are_sent_once(
        north, tenant_a, caplog, django_capture_on_commit_callbacks, private_redis, celery_on,
        drain):
    """A real redis-server, stopped when escalate() commits: the staff messages stay pending
    and due; once it is back the resend job queues each once, and running every queued task
    twice (a redelivery) still sends one e-mail per person. A rerun of the escalation adds
    nothing."""
    import redis

    staff("worker", "Case workers")
    assignee = staff("assignee")
    late = new_case(north, due=date(2026, 3, 2), assignee=assignee)
    new_case(north, due=TUE)
    queue = f"dgbox-escalation-test-{os.getpid()}"
    broker = private_redis
    broker.start()
    mail.outbox.clear()
    try:
        with celery_on(broker.url, queue) as app:
            broker.stop()
            with caplog.at_level(logging.WARNING), \
                    django_capture_on_commit_callbacks(execute=True):
                escalation.escalate(FRI)
            assert "stay pending" in caplog.text
            ids = set(staff_messages().values_list("pk", flat=True))
            assert len(ids) == 2
            assert set(Message.objects.due().values_list("pk", flat=True)) == ids
            assert mail.outbox == []
            # The next hourly run (still no broker) writes nothing more.
            with django_capture_on_commit_callbacks(execute=True):
                assert escalation.escalate(FRI) == {"overdue": 0, "nearing": 0, "cleared": 0}
            assert set(staff_messages().values_list("pk", flat=True)) == ids

            broker.start()
            with django_capture_on_commit_callbacks(execute=True):
                assert resend_pending() == 2
            assert redis.Redis.from_url(broker.url).llen(queue) == 2
            queued = drain(app, queue)
            assert sorted(queued) == sorted(("notifications.deliver", "north", (pk,))
                                            for pk in ids)
            for name, _schema, args in queued * 2:  # each delivered twice: sent once
                app.tasks[name].apply(args)
            assert resend_pending() == 0
    finally:
        broker.stop()
    assert [(m.status, m.attempts) for m in staff_messages()] == [("sent", 1), ("sent", 1)]
    assert sorted(m.to[0] for m in mail.outbox) == ["assignee@north.example",
                                                    "worker@north.example"]
    by_person = {m.to[0]: m for m in mail.outbox}
    assert late.reference in by_person["assignee@north.example"].body
    assert by_person["worker@north.example"].subject.startswith("Сроки по заявлениям (2)")


def test_staff_message_wording_is_per_tenant(tenant_a, tenant_b,
                                             django_capture_on_commit_callbacks):
    """Tenant B rewords the staff message; tenant A keeps the default."""
    with tenant_context(tenant_b):
        template = NotificationTemplate(
            key="staff_escalation", channel="email", language=tenant_b.default_language,
            subject="Просрочено: {count} ({references})",
            body="Коллеги, проверьте:\n\n{cases}\n\n{url}\n{tenant_name}")
        template.full_clean()
        template.save()
    references = {}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            staff("worker", "Case workers", domain=f"{tenant.slug}.example")
            case = new_case(OnlineServiceFactory(spec=SIMPLE), due=date(2026, 3, 2))
            references[tenant.slug] = case.reference
            with django_capture_on_commit_callbacks(execute=True):
                escalation.escalate(FRI)
    sent = {m.to[0].split("@")[1]: m for m in mail.outbox}
    north_mail, south_mail = sent["north.example"], sent["south.example"]
    assert south_mail.subject == f"Просрочено: 1 ({references['south']})"
    assert south_mail.body.startswith("Коллеги, проверьте:")
    assert "http://south.localhost/admin/cases/" in south_mail.body
    assert north_mail.subject == f"Сроки по заявлениям (1): {references['north']}"
    assert north_mail.body.startswith("Сроки рассмотрения этих заявлений")
    with tenant_context(tenant_a):
        assert not NotificationTemplate.objects.exists()


def test_tasks_are_tenant_tasks_and_refuse_the_public_schema():
    for name in ("services.escalate_deadlines", "services.apply_retention",
                 "services.issue_letter", "services.issue_missing_letters"):
        assert current_app.tasks[name].tenant_required
    connection.set_schema_to_public()
    with pytest.raises(TenantRequiredError):
        current_app.tasks["services.escalate_deadlines"].delay()


# --- retention -------------------------------------------------------------------------------
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def store(case=None, draft=None, field="certificate"):
    name = storages["private"].save(f"uploads/test/{uuid.uuid4().hex}.pdf",
                                    ContentFile(b"%PDF-1.4 test"))
    return UploadedFile.objects.create(
        case=case, draft=draft, field_name=field, storage_name=name, original_name="x.pdf",
        extension="pdf", content_type="application/pdf", size=13, sha256="0" * 64)


def statistics():
    return {
        "cases": list(Case.objects.order_by("pk").values_list(
            "service_id", "status", "channel", "group", "workflow_version_id", "sla_flag")),
        "by_status": dict(Case.objects.values_list("status").annotate(n=Count("pk"))
                          .order_by()),
        "dates": list(Case.objects.order_by("pk").values_list("submitted_at", "closed_at",
                                                               "due_date")),
        "events": list(CaseEvent.objects.exclude(kind=CaseEvent.Kind.ERASED).order_by("pk")
                       .values_list("case_id", "kind")),
    }


def test_retention_erases_exactly_the_expired_cases(north, tenant_a, s3_bucket):
    north.retention_days = 30
    north.save()
    longer = OnlineServiceFactory(slug="birth-registration", spec=SIMPLE)  # keeps a year
    period = timedelta(days=30)
    expired = new_case(north, status="refused", decision_reason=f"Отказано: {NAME}",
                       closed_at=NOW - period - timedelta(minutes=1))
    engine.start(expired)
    Case.objects.filter(pk=expired.pk).update(status="refused")
    kept = new_case(north, status="approved", closed_at=NOW - period + timedelta(minutes=1))
    open_case = new_case(north)
    other_service = new_case(longer, status="approved", closed_at=NOW - timedelta(days=31))

    draft = ApplicationDraft.objects.create(service=north, form_version=north.current_version(),
                                            answers={"applicant_name": NAME}, case=expired)
    gone = [store(case=expired), store(draft=draft)]
    stay = [store(case=kept), store(case=open_case), store(case=other_service)]
    for case in (expired, kept):
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.SUBMITTED)
        CaseNote.objects.create(case=case, text=f"Звонила {NAME}")
        AutomatedDecision.objects.create(case=case, rule_name="r", rule={"then": "refuse"},
                                         inputs={"purpose": "дом"}, outcome="refuse")
        TrackingCode.objects.create(case=case, code_hash="x", sent_to="email",
                                    expires_at=NOW)
        for status in ("sent", "pending"):
            MessageFactory(channel="email", recipient=EMAIL, key="decision_made",
                           language="ru", subject=f"Заявление {case.reference}",
                           body=f"Здравствуйте, {NAME}", topic=case.reference, status=status)
    before = statistics()

    assert retention.apply_retention(NOW) == {"erased": 1, "files": 2}

    erased = Case.objects.get(pk=expired.pk)
    assert (erased.applicant_name, erased.applicant_email, erased.applicant_phone,
            erased.answers, erased.decision_reason) == ("", "", "", {}, "")
    assert erased.erased_at == NOW
    assert (erased.status, erased.service_id, erased.channel) == ("refused", north.pk, "online")
    assert erased.workflow_version_id == expired.workflow_version_id is not None
    for stored in gone:
        assert not storages["private"].exists(stored.storage_name)
    assert not UploadedFile.objects.filter(pk__in=[s.pk for s in gone]).exists()
    assert not ApplicationDraft.objects.filter(pk=draft.pk).exists()
    assert list(CaseNote.objects.filter(case=erased).values_list("text", flat=True)) == [""]
    assert list(AutomatedDecision.objects.filter(case=erased)
                .values_list("inputs", "outcome")) == [({}, "refuse")]
    assert not TrackingCode.objects.filter(case=erased).exists()
    messages = Message.objects.filter(topic=erased.reference)
    assert {(m.recipient, m.subject, m.body) for m in messages} == {("", "", "")}
    assert set(messages.values_list("status", flat=True)) == {"sent", "failed"}
    assert list(erased.events.filter(kind=CaseEvent.Kind.ERASED).values_list("data", flat=True)) \
        == [{"files": 2, "notes": 1, "messages": 2}]

    # Everything else untouched.
    for case in (kept, open_case, other_service):
        again = Case.objects.get(pk=case.pk)
        assert again.applicant_name == NAME and again.erased_at is None
    for stored in stay:
        assert storages["private"].exists(stored.storage_name)
    assert CaseNote.objects.get(case=kept).text == f"Звонила {NAME}"
    assert Message.objects.filter(topic=kept.reference, recipient=EMAIL).count() == 2
    assert TrackingCode.objects.filter(case=kept).exists()
    assert statistics() == before

    # Idempotent, also as the tenant task with a frozen clock.
    assert retention_task.apply(args=(NOW.isoformat(),)).get() == {"erased": 0, "files": 0}
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.ERASED).count() == 1
    # A minute past the second case's period, it goes too.
    later = NOW + timedelta(minutes=2)
    assert retention.apply_retention(later) == {"erased": 1, "files": 1}
    assert not storages["private"].exists(stay[0].storage_name)
    assert statistics() == before
