"""The case engine: workflow definitions, checked transitions, conflicts, automatic decisions,
SLA arithmetic, the more-information round trip, audit events."""

import copy
import re
import threading
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context

from services.cases import engine, sla
from services.models import ApplicationDraft, AutomatedDecision, Case, CaseEvent, Workflow
from services.workflows import spec as workflowspec

from .factories import (
    NORTH,
    PDF,
    PERMIT_SPEC,
    RULES,
    OnlineServiceFactory,
    StaffFactory,
    SubmittedCaseFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def north(tenant_a):
    with tenant_context(tenant_a):
        yield OnlineServiceFactory(spec=PERMIT_SPEC)


# --- definitions ---------------------------------------------------------------------------
def test_default_workflow_is_valid_and_every_state_reachable():
    workflowspec.validate(workflowspec.DEFAULT)


def broken(**changes):
    definition = copy.deepcopy(workflowspec.DEFAULT)
    for key, value in changes.items():
        definition[key] = value(definition) if callable(value) else value
    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            workflowspec.validate(definition)
        return " | ".join(caught.value.messages)  # lazy messages: read in English


def test_invalid_workflows_are_refused_with_reasons():
    assert "starts in" in broken(initial="nowhere")
    assert "unknown target state" in broken(transitions=lambda d: d["transitions"] + [
        {"code": "x", "label": {}, "from": ["received"], "to": "limbo", "group": "g"}])
    assert "nothing can follow" in broken(transitions=lambda d: d["transitions"] + [
        {"code": "reopen", "label": {}, "from": ["approved"], "to": "received", "group": "g"}])
    assert "never be reached" in broken(states=lambda d: d["states"] + [
        {"code": "orphan", "label": {"ru": "x", "en": "x"}, "terminal": False}])
    assert "both languages" in broken(states=lambda d: [dict(d["states"][0], label={"ru": "x"})]
                                      + d["states"][1:])
    assert "unknown required field" in broken(transitions=lambda d: [
        dict(d["transitions"][0], requires=["signature"])] + d["transitions"][1:])
    assert "At least one state must end" in broken(states=lambda d: [
        dict(s, terminal=False) for s in d["states"]])


def test_workflow_change_keeps_cases_in_flight_on_their_version(north):
    case = SubmittedCaseFactory(service=north)
    standard = Workflow.default()
    changed = copy.deepcopy(standard.definition)
    changed["transitions"] = [t for t in changed["transitions"] if t["code"] != "start_review"]
    standard.definition = changed
    standard.save()
    assert standard.versions.count() == 2
    admin = StaffFactory(username="lead", groups=[workflowspec.STAFF_GROUP])
    # The old case still has "start review" (its version); a new case does not.
    engine.take(case.pk, "start_review", actor=admin)
    newer = SubmittedCaseFactory(service=north)
    assert newer.workflow_version.number == 2
    with pytest.raises(engine.TransitionError):
        engine.take(newer.pk, "start_review", actor=admin)


# --- transitions ---------------------------------------------------------------------------
def test_transition_rules_state_role_and_required_fields(north):
    case = SubmittedCaseFactory(service=north)
    worker = StaffFactory(username="worker", groups=[workflowspec.STAFF_GROUP])
    outsider = StaffFactory(username="outsider")
    with translation.override("en"):
        with pytest.raises(engine.TransitionError, match="Only members"):
            engine.take(case.pk, "start_review", actor=outsider)
        with pytest.raises(engine.TransitionError, match="Fill in: Reason"):
            engine.take(case.pk, "refuse", actor=worker)
        with pytest.raises(engine.TransitionError, match="cannot be taken"):
            engine.take(case.pk, "info_received", actor=worker)
        with pytest.raises(engine.TransitionError, match="no step"):
            engine.take(case.pk, "teleport", actor=worker)
        # The applicant's step is never a staff step, even for a superuser.
        engine.take(case.pk, "request_info", actor=worker, values={"message": "Plan?"})
        boss = get_user_model().objects.create_superuser("boss", "b@north.example", "x")
        with pytest.raises(engine.TransitionError, match="Only members"):
            engine.take(case.pk, "info_received", actor=boss)
    case.refresh_from_db()
    assert case.status == "more_info"
    refused = SubmittedCaseFactory(service=north)
    engine.take(refused.pk, "refuse", actor=worker, values={"reason": "Wrong zone"})
    refused.refresh_from_db()
    assert refused.status == "refused" and refused.closed_at and \
        refused.decision_reason == "Wrong zone"


def test_every_action_writes_an_event_without_personal_data(north):
    case = SubmittedCaseFactory(service=north)
    worker = StaffFactory(username="worker", groups=[workflowspec.STAFF_GROUP])
    engine.assign([case.pk], worker, actor=worker)
    engine.add_note(case, "Called the applicant", actor=worker)
    engine.take(case.pk, "start_review", actor=worker)
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds == ["submitted", "assigned", "note", "status"]
    for event in case.events.all():
        text = str(event.data)
        assert "Ann" not in text and "ann@example.org" not in text and "Called" not in text
    event = case.events.get(kind="status")
    assert event.actor == worker and event.data == {
        "from": "received", "to": "in_review", "transition": "start_review",
        "automatic": False, "with": []}
    with pytest.raises(RuntimeError):
        event.save()  # append-only


def test_stale_page_gets_a_clear_conflict(north):
    case = SubmittedCaseFactory(service=north)
    one = StaffFactory(username="one", groups=[workflowspec.STAFF_GROUP])
    two = StaffFactory(username="two", groups=[workflowspec.STAFF_GROUP])
    engine.take(case.pk, "start_review", actor=one, expected_state="received")
    with translation.override("en"), pytest.raises(engine.ConflictError,
                                                   match="Someone else changed"):
        engine.take(case.pk, "approve", actor=two, expected_state="received")


def test_two_staff_acting_at_the_same_moment_one_wins(tenant_a, in_thread):
    """Two connections take different steps from the same state at once: the row lock
    serialises them and the second sees the state it expected is gone."""

    def prepare():
        with tenant_context(tenant_a):
            service = OnlineServiceFactory(spec=PERMIT_SPEC)
            case = SubmittedCaseFactory(service=service)
            one = StaffFactory(username="racer1", groups=[workflowspec.STAFF_GROUP])
            two = StaffFactory(username="racer2", groups=[workflowspec.STAFF_GROUP])
            return service.pk, case.pk, one.pk, two.pk

    service_pk, case_pk, one_pk, two_pk = in_thread(prepare)
    barrier = threading.Barrier(2)
    outcomes = []

    def act(user_pk, code, values):
        with tenant_context(tenant_a):
            user = get_user_model().objects.get(pk=user_pk)
            barrier.wait(30)
            try:
                engine.take(case_pk, code, actor=user, expected_state="received",
                              values=values)
                outcomes.append(("ok", code))
            except engine.ConflictError:
                outcomes.append(("conflict", code))

    threads = [threading.Thread(target=in_thread, args=(act, one_pk, "approve", {})),
               threading.Thread(target=in_thread, args=(act, two_pk, "refuse",
                                                         {"reason": "No"}))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    def final_and_clean():
        with tenant_context(tenant_a):
            case = Case.objects.get(pk=case_pk)
            status, transitions = case.status, case.events.filter(kind="status").count()
            from services.notifications.models import Message

            Message.objects.filter(topic=case.reference).delete()
            ApplicationDraft.objects.filter(case=case).delete()
            case.delete()
            from services.models import OnlineService

            OnlineService.objects.filter(pk=service_pk).delete()
            get_user_model().objects.filter(pk__in=[one_pk, two_pk]).delete()
            return status, transitions

    status, transitions = in_thread(final_and_clean)
    assert sorted(kind for kind, _code in outcomes) == ["conflict", "ok"]
    winner = next(code for kind, code in outcomes if kind == "ok")
    assert status == {"approve": "approved", "refuse": "refused"}[winner]
    assert transitions == 1


# --- automatic decisions -----------------------------------------------------------------
@pytest.mark.parametrize(("answers", "status", "group", "rule"), [
    ({"floors": "3", "heritage": "no"}, "approved", "", "Small house"),
    ({"floors": "3.0", "heritage": "no"}, "approved", "", "Small house"),
    ({"floors": "4", "heritage": "no"}, "received", "", None),
    ({"floors": "31", "heritage": "no"}, "refused", "", "Too tall"),
    ({"floors": "2", "heritage": "yes"}, "received", "Heritage", "Heritage goes to specialists"),
    ({"floors": "not a number", "heritage": "no"}, "received", "", None),
    ({"heritage": "no"}, "received", "", None),  # answer missing: no rule can decide
])
def test_automatic_decisions_on_edge_answers(north, answers, status, group, rule):
    north.rules = RULES
    north.full_clean()
    north.save()
    case = SubmittedCaseFactory(service=north, answers=answers)
    case.refresh_from_db()
    assert case.status == status and case.group == group
    decision = AutomatedDecision.objects.filter(case=case).first()
    if rule is None:
        assert decision is None
    else:
        assert decision.rule_name == rule
        assert set(decision.inputs) <= {"floors", "heritage"} and decision.inputs
        assert case.events.filter(kind="auto_decision").count() == 1


def test_a_case_decided_automatically_tells_the_applicant(north,
                                                         django_capture_on_commit_callbacks):
    north.rules = RULES
    north.save()
    with django_capture_on_commit_callbacks(execute=True):
        SubmittedCaseFactory(service=north, answers={"floors": "1", "heritage": "no"})
    subjects = " ".join(m.subject + m.body for m in mail.outbox)
    assert re.search(r"[A-Z]{3}-\d{4}-\d{6}", subjects)
    assert len(mail.outbox) == 2  # receipt and decision


@pytest.mark.parametrize(("rules", "message"), [
    ([{"name": "x", "when": {"eval": ["__import__('os')"]}, "then": "approve"}], "not allowed"),
    ([{"name": "x", "when": {"<": [{"var": "income"}, 5]}, "then": "approve"}],
     "not a question"),
    ([{"name": "x", "when": {"<": [{"var": "floors"}, 5]}, "then": "teleport"}],
     "not a step the workflow allows"),
    ([{"name": "x", "when": {"<": [{"var": "floors"}, 5]}, "then": "route"}], "which group"),
    ([{"name": "x", "when": "floors < 5", "then": "approve"}], "JSON Logic object"),
    ([{"when": {"<": [{"var": "floors"}, 5]}, "then": "approve"}], "give it a name"),
    ({"name": "x"}, "must be a list"),
])
def test_invalid_rules_are_refused_when_saved(north, rules, message):
    north.rules = rules
    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            north.full_clean()
        assert message in " ".join(caught.value.message_dict["rules"])


# --- SLA ----------------------------------------------------------------------------------
def test_working_days_skip_weekends_and_holidays(settings):
    friday = date(2026, 11, 27)
    assert sla.add_working_days(friday, 1) == date(2026, 11, 30)  # Monday
    assert sla.add_working_days(friday, 5) == date(2026, 12, 4)
    assert sla.working_days_between(friday, date(2026, 11, 30)) == 1
    assert sla.working_days_between(date(2026, 11, 28), date(2026, 11, 29)) == 0  # weekend
    settings.DGBOX_HOLIDAYS = ["2026-11-30"]
    assert sla.add_working_days(friday, 1) == date(2026, 12, 1)
    assert sla.flag(date(2026, 12, 4), date(2026, 12, 5)) == "overdue"
    assert sla.flag(date(2026, 12, 4), date(2026, 12, 2)) == "nearing"
    assert sla.flag(date(2026, 12, 14), date(2026, 12, 2)) == ""


def test_deadline_set_at_submission_and_paused_while_waiting(north, monkeypatch):
    monday = date(2026, 11, 23)
    monkeypatch.setattr(engine, "local_today", lambda: monday)
    north.sla_days = 5
    north.save()
    case = SubmittedCaseFactory(service=north)
    assert case.due_date == date(2026, 11, 30)
    worker = StaffFactory(username="worker", groups=[workflowspec.STAFF_GROUP])
    engine.take(case.pk, "request_info", actor=worker, values={"message": "Plan?"})
    case.refresh_from_db()
    assert case.paused_since == monday and case.sla_flag == ""
    thursday = date(2026, 11, 26)
    monkeypatch.setattr(engine, "local_today", lambda: thursday)
    from services.applications.submission import provide_information

    provide_information(case, "Here it is")
    case.refresh_from_db()
    # waited Tue, Wed, Thu: 3 working days; deadline moves from Mon 30th to Thu 3rd
    assert case.due_date == date(2026, 12, 3) and case.paused_since is None
    assert case.status == "in_review"


# --- more information over HTTP ------------------------------------------------------------
def test_applicant_answers_a_request_for_more_information(client, tenant_a, north,
                                                          django_capture_on_commit_callbacks):
    case = SubmittedCaseFactory(service=north)
    worker = StaffFactory(username="worker", groups=[workflowspec.STAFF_GROUP])
    with django_capture_on_commit_callbacks(execute=True):
        engine.take(case.pk, "request_info", actor=worker,
                      values={"message": "Please send the site plan."})
    assert any(case.reference in m.body for m in mail.outbox)
    connection.set_schema_to_public()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/ru/track/", {"reference": case.reference}, **NORTH)
    code = re.search(r"(?<![-\d])(\d{6})(?![-\d])", mail.outbox[-1].body).group(1)
    client.post("/ru/track/code/", {"code": code}, **NORTH)
    page = client.get("/ru/track/status/", **NORTH).content.decode()
    assert "Please send the site plan." in page and 'name="message"' in page
    empty = client.post("/ru/track/status/", {"message": ""}, **NORTH)
    assert empty.status_code == 400
    sent = client.post("/ru/track/status/", {
        "message": "Attached.", "document": SimpleUploadedFile("plan.pdf", PDF)}, **NORTH)
    assert sent.status_code == 302
    with tenant_context(tenant_a):
        case.refresh_from_db()
        assert case.status == "in_review"
        assert case.notes.filter(kind="answer", text="Attached.").exists()
        assert case.files.filter(field_name="more_info").count() == 1
        assert CaseEvent.objects.filter(case=case, kind="info_provided").exists()
    # Nothing asked any more: the form is gone.
    assert 'name="message"' not in client.get("/ru/track/status/", **NORTH).content.decode()


def test_applicant_sees_the_decision_and_downloads_the_letter(client, tenant_a, north,
                                                            django_capture_on_commit_callbacks):
    case = SubmittedCaseFactory(service=north)
    worker = StaffFactory(username="worker", groups=[workflowspec.STAFF_GROUP])
    with django_capture_on_commit_callbacks(execute=True):
        engine.take(case.pk, "refuse", actor=worker, values={"reason": "Зона застройки."})
    connection.set_schema_to_public()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/ru/track/", {"reference": case.reference}, **NORTH)
    code = re.search(r"(?<![-\d])(\d{6})(?![-\d])", mail.outbox[-1].body).group(1)
    client.post("/ru/track/code/", {"code": code}, **NORTH)
    page = client.get("/ru/track/status/", **NORTH).content.decode()
    assert "Зона застройки." in page and "Отказано" in page
    letter = client.get("/ru/track/letter/", **NORTH)
    assert letter.status_code == 200 and "no-store" in letter["Cache-Control"]
    body = b"".join(letter.streaming_content).decode()
    assert case.reference in body and "Зона застройки." in body and '<html lang="ru"' in body
    with tenant_context(tenant_a):
        assert case.events.filter(kind="file_viewed", actor_role="applicant").exists()
