"""Decision letters: made when a case is approved or refused, from the tenant's template or the
built-in Russian and English letters, as an accessible HTML document in the tenant's private
S3 prefix; one per case and outcome; refused templates; erased with the case."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.db import connection, transaction
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from services.cases import retention
from services.cases.engine import take
from services.letters import service as letters
from services.letters import tasks as letter_tasks
from services.models import Case, CaseEvent, DecisionLetterTemplate, UploadedFile
from services.tasks import issue_letter as issue_letter_task
from services.tasks import issue_missing_letters as sweep_task
from tenants.tasks import fan_out

from .factories import OnlineServiceFactory, SubmittedCaseFactory

pytestmark = pytest.mark.django_db
SIMPLE = [{"type": "text", "name": "purpose", "label": "Purpose", "required": True}]
DECIDED = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)  # 12:30 in Moscow


@pytest.fixture
def north(tenant_a):
    with tenant_context(tenant_a):
        yield OnlineServiceFactory(spec=SIMPLE)


def new_case(service, language="ru", name="Анна <b>Иванова</b>"):
    return SubmittedCaseFactory(service=service, language=language, answers={"purpose": "дом"},
                                applicant_name=name, applicant_email="anna@example.org")


def decide(case, outcome, reason=""):
    code = {"approved": "approve", "refused": "refuse"}[outcome]
    take(case.pk, code, automatic=True, values={"reason": reason})
    Case.objects.filter(pk=case.pk).update(closed_at=DECIDED)
    return Case.objects.get(pk=case.pk)


def text_of(letter):
    with storages["private"].open(letter.storage_name) as handle:
        return handle.read().decode("utf-8")


EXPECTED = {
    ("approved", "ru"): ["Решение по вашему заявлению", "Одобрено", "6 марта 2026",
                         "Номер заявления", "заявление одобрено", "Северная область"],
    ("approved", "en"): ["Decision on your application", "Approved", "6 March 2026",
                         "Reference", "has been approved", "Северная область"],
    ("refused", "ru"): ["Решение по вашему заявлению", "Отказано", "6 марта 2026",
                        "Причина отказа: Участок в охранной зоне", "обжаловать"],
    ("refused", "en"): ["Decision on your application", "Refused", "6 March 2026",
                        "Reason for the refusal: Участок в охранной зоне", "appeal"],
}


@pytest.mark.parametrize(("outcome", "language"), sorted(EXPECTED))
def test_default_letters_in_both_languages(north, tenant_a, s3_bucket, outcome, language):
    case = new_case(north, language)
    reason = "Участок в охранной зоне" if outcome == "refused" else ""
    case = decide(case, outcome, reason)
    letter = letters.issue_letter(case)
    html = text_of(letter)
    assert html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in html
    assert f"<title>Decision on your application — {case.reference}</title>" in html or \
        f"<title>Решение по вашему заявлению — {case.reference}</title>" in html
    assert '<meta charset="utf-8">' in html and "<main>" in html and "<h1>" in html
    assert '<time datetime="2026-03-06">' in html
    assert case.reference in html and north.page.title in html
    for text in EXPECTED[(outcome, language)]:
        assert text in html, text
    # The applicant's name is shown as text, never as markup.
    assert "Анна &lt;b&gt;Иванова&lt;/b&gt;" in html and "<b>" not in html
    if outcome == "approved":  # no reason given: no empty "Note:" line
        assert "Пояснение" not in html and "Note:" not in html


def test_letter_is_stored_in_the_tenant_prefix_once(north, tenant_a, tenant_b, s3_bucket):
    case = decide(new_case(north), "approved")
    letter = letters.issue_letter(case)
    assert letter.storage_name == f"letters/{case.pk}-approved.html"
    assert storages["private"].key_for(letter.storage_name) == \
        f"tenants/{tenant_a.schema_name}/letters/{case.pk}-approved.html"
    assert (letter.case_id, letter.field_name, letter.content_type, letter.extension) == \
        (case.pk, "decision_letter", "text/html", "html")
    data = text_of(letter).encode()
    import hashlib

    assert letter.sha256 == hashlib.sha256(data).hexdigest() and letter.size == len(data)
    assert list(case.events.filter(kind=CaseEvent.Kind.LETTER).values_list("data", flat=True)) \
        == [{"file": str(letter.pk), "outcome": "approved", "language": "ru"}]

    # Idempotent: the same letter, one file, one event.
    assert letters.issue_letter(case).pk == letter.pk
    assert UploadedFile.objects.filter(case=case, field_name="decision_letter").count() == 1
    assert case.events.filter(kind=CaseEvent.Kind.LETTER).count() == 1
    with tenant_context(tenant_b):
        assert not storages["private"].exists(letter.storage_name)


def test_a_leftover_object_from_a_failed_attempt_is_replaced(north, tenant_a, s3_bucket):
    from django.core.files.base import ContentFile

    case = decide(new_case(north), "approved")
    name = letters.storage_name(case, "approved")
    storages["private"].save(name, ContentFile(b"stale"))
    letter = letters.issue_letter(case)
    assert letter.storage_name == name and "<!DOCTYPE html>" in text_of(letter)


def test_no_letter_without_a_decision(north, tenant_a):
    case = new_case(north)
    assert letters.issue_letter(case) is None
    take(case.pk, "withdraw", automatic=True, values={"note": "by phone"})
    assert letters.issue_letter(Case.objects.get(pk=case.pk)) is None
    assert not UploadedFile.objects.filter(field_name="decision_letter").exists()


def test_tenant_template_is_used(north, tenant_a, s3_bucket):
    template = DecisionLetterTemplate(
        outcome="refused", language="ru", title="Отказ по заявлению {reference}",
        body="Уважаемый заявитель {applicant_name}!\n\nУслуга «{service}»: {decision}.\n"
             "Основание: {reason}\n\n{date}, {tenant_name}")
    template.full_clean()
    template.save()
    case = decide(new_case(north), "refused", "Нет документа")
    html = text_of(letters.issue_letter(case))
    assert f"<h1>Отказ по заявлению {case.reference}</h1>" in html
    assert "Уважаемый заявитель Анна &lt;b&gt;Иванова&lt;/b&gt;!" in html
    assert "Отказано.<br>\nОснование: Нет документа" in html
    assert "6 марта 2026, Северная область" in html
    assert "Мы рассмотрели" not in html  # not the built-in text
    # The English letter of the same tenant still uses the default.
    english = decide(new_case(north, "en"), "refused", "No document")
    assert "Reason for the refusal: No document" in text_of(letters.issue_letter(english))


def test_invalid_templates_are_refused():
    with translation.override("en"):
        for body, error in (("Dear {name}", "Unknown placeholders: name"),
                            ("Dear {applicant_name", "Unmatched"),
                            ("{reference.upper}", "not a placeholder")):
            template = DecisionLetterTemplate(outcome="approved", language="en", title="T",
                                              body=body)
            with pytest.raises(ValidationError) as caught:
                template.clean()
            assert error in " ".join(caught.value.message_dict["body"]), body


def test_on_decision_issues_the_letter_after_commit(north, tenant_a, s3_bucket,
                                                    django_capture_on_commit_callbacks):
    case = new_case(north)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        letter_tasks.on_decision(case)  # still received: nothing to do
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            decided = take(case.pk, "approve", automatic=True)
            letter_tasks.on_decision(decided)  # what take() calls
            assert not UploadedFile.objects.filter(field_name="decision_letter").exists()
    letter = UploadedFile.objects.get(case=case, field_name="decision_letter")
    assert case.reference in text_of(letter)


def test_letters_are_erased_with_the_case(north, tenant_a, s3_bucket):
    case = decide(new_case(north), "approved")
    letter = letters.issue_letter(case)
    retention.erase_case(case.pk)
    assert not storages["private"].exists(letter.storage_name)
    assert not UploadedFile.objects.filter(pk=letter.pk).exists()
    assert letters.issue_letter(case) is None  # never made again from erased data


# --- the sweep: letters whose task was never queued -----------------------------------------
NOW = timezone.now()
OLD = NOW - letters.SWEEP_GRACE - timedelta(minutes=1)


def last_changed(case, when):
    Case.objects.filter(pk=case.pk).update(updated_at=when)


def letters_of(case):
    return UploadedFile.objects.filter(case=case, field_name="decision_letter")


def test_sweep_issues_each_missing_letter_once(north, tenant_a, s3_bucket):
    """take() queues the letter on commit; the test transaction never commits, so these
    decided cases are exactly those whose task was lost with the broker."""
    missing = decide(new_case(north), "approved")
    refused = decide(new_case(north, "en"), "refused", "No document")
    has_one = decide(new_case(north), "approved")
    existing = letters.issue_letter(has_one)
    recent = decide(new_case(north), "refused", "Нет документа")
    still_open = new_case(north)
    withdrawn = new_case(north)
    take(withdrawn.pk, "withdraw", automatic=True, values={"note": "by phone"})
    erased = decide(new_case(north), "approved")
    retention.erase_case(erased.pk)
    for case in (missing, refused, has_one, still_open, withdrawn, erased):
        last_changed(case, OLD)
    last_changed(recent, NOW - letters.SWEEP_GRACE + timedelta(minutes=1))

    assert set(letters.missing_letters(NOW).values_list("pk", flat=True)) == {
        missing.pk, refused.pk}
    assert letters.issue_missing_letters(NOW) == {"issued": 2, "failed": 0}
    for case, outcome in ((missing, "approved"), (refused, "refused")):
        [letter] = letters_of(case)
        assert letter.storage_name == f"letters/{case.pk}-{outcome}.html"
        assert case.reference in text_of(letter)
        assert case.events.filter(kind=CaseEvent.Kind.LETTER).count() == 1
    assert "Reason for the refusal: No document" in text_of(letters_of(refused).get())
    assert list(letters_of(has_one)) == [existing]
    for case in (recent, still_open, withdrawn, erased):
        assert not letters_of(case).exists(), case.status

    # Again, as the beat task, and the case's own task arriving late: nothing new.
    assert sweep_task.apply(args=(NOW.isoformat(),)).get() == {"issued": 0, "failed": 0}
    assert issue_letter_task.apply(args=(missing.pk,)).get() == str(letters_of(missing).get().pk)
    assert letters_of(missing).count() == 1
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.LETTER).count() == 3
    # Once it is old enough, the recent decision is swept too.
    later = NOW + letters.SWEEP_GRACE
    assert letters.issue_missing_letters(later) == {"issued": 1, "failed": 0}
    assert letters_of(recent).count() == 1


def test_sweep_leaves_a_failing_case_for_the_next_run(north, tenant_a, s3_bucket, caplog):
    broken, fine = (decide(new_case(north), "approved") for _ in range(2))
    for case in (broken, fine):
        last_changed(case, OLD)
    real = letters.issue_letter

    def storage_down_for_broken(case):
        if case.pk == broken.pk:
            raise ConnectionError("S3 unavailable")
        return real(case)

    with mock.patch.object(letters, "issue_letter", side_effect=storage_down_for_broken):
        assert letters.issue_missing_letters(NOW) == {"issued": 1, "failed": 1}
    assert "could not be issued" in caplog.text
    assert not letters_of(broken).exists() and letters_of(fine).count() == 1
    assert letters.issue_missing_letters(NOW) == {"issued": 1, "failed": 0}
    assert letters_of(broken).count() == 1


def test_sweep_runs_in_every_tenants_schema(tenant_a, tenant_b, s3_bucket):
    """The beat entry fans the sweep out: each tenant's missing letter is made in its own
    schema and its own storage prefix."""
    decided = {}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            case = decide(new_case(OnlineServiceFactory(spec=SIMPLE)), "approved")
            last_changed(case, OLD)
            decided[tenant.schema_name] = case
    connection.set_schema_to_public()
    sent = fan_out.apply(args=("services.issue_missing_letters",)).get()
    assert {tenant_a.schema_name, tenant_b.schema_name} <= set(sent)
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            case = decided[tenant.schema_name]
            [letter] = letters_of(case)
            assert storages["private"].key_for(letter.storage_name) == \
                f"tenants/{tenant.schema_name}/letters/{case.pk}-approved.html"
            assert case.reference in text_of(letter)
            assert not letters.missing_letters(NOW + timedelta(hours=1)).exists()
