"""Applying online end to end over HTTP: form -> check your answers -> case with a reference,
uploads in the tenant's private S3 prefix, one case per submission, receipts after commit,
assisted digital, fees, form versions. Real PostgreSQL and a real S3 server."""

import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from cms.models import ServicePage
from services.applications.submission import submit_application
from services.forms.blocks import stream_data_from_spec
from services.models import (
    ApplicationDraft,
    Case,
    CaseEvent,
    OnlineService,
    Payment,
    UploadedFile,
)
from services.notifications.models import Message

from .factories import (
    FORM_SPEC,
    GOOD_ANSWERS,
    NORTH,
    PDF,
    PNG,
    SOUTH,
    ApplicationDraftFactory,
    OnlineServiceFactory,
    StaffFactory,
    post_form,
    submit,
)

pytestmark = pytest.mark.django_db
REFERENCE = re.compile(r"\b([A-Z]{2,5}-\d{4}-\d{6})\b")


@pytest.fixture
def north_service(tenant_a):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
    connection.set_schema_to_public()
    return service


def test_citizen_applies_and_gets_a_reference(client, tenant_a, north_service,
                                              django_capture_on_commit_callbacks):
    form_page = client.get("/ru/apply/building-permit/", **NORTH)
    assert form_page.status_code == 200
    body = form_page.content.decode()
    for text in ("Разрешение на строительство", 'name="applicant_name"', 'name="home_0"',
                 'type="file"', 'accept="application/pdf"', 'data-show-if-field="benefits"'):
        assert text in body, text

    response = post_form(client)
    assert response.status_code == 302 and response["Location"].endswith("/check/")
    check = client.get("/ru/apply/building-permit/check/", **NORTH).content.decode()
    for text in ("Анна Иванова", "anna@example.org", "ул. Ленина, 1, Северск, 101000",
                 "11223344595", "справка.pdf", "No. 1", "Chess"):
        assert text in check, text

    with django_capture_on_commit_callbacks(execute=True):
        done, _token = submit(client)
    assert done.status_code == 302 and done["Location"].endswith("/done/")
    confirmation = client.get(done["Location"], **NORTH).content.decode()
    reference = REFERENCE.search(confirmation).group(1)
    assert reference.startswith("NOR-")

    with tenant_context(tenant_a):
        case = Case.objects.get(reference=reference)
        assert case.applicant_name == "Анна Иванова" and case.channel == "online"
        assert case.form_version.number == 1
        assert case.answers["home"]["town"] == "Северск"
        assert "applicant_email" not in case.answers  # contact details live on the case
        stored = case.files.get()
        assert stored.original_name == "справка.pdf" and stored.content_type == "application/pdf"
        assert storages["private"].open(stored.storage_name).read() == PDF
        assert storages["private"].key_for(stored.storage_name).startswith(
            f"tenants/{tenant_a.schema_name}/uploads/")
        assert list(case.events.values_list("kind", flat=True)) == ["submitted"]
        receipt = Message.objects.get(topic=reference, channel="email")
        assert receipt.status == "sent"
    assert [m.to for m in mail.outbox] == [["anna@example.org"]]
    assert reference in mail.outbox[0].body


def test_references_are_unique_and_sequential_within_a_tenant(tenant_a, north_service):
    with tenant_context(tenant_a):
        numbers = []
        for _ in range(3):
            draft = ApplicationDraftFactory(service=north_service, form_answers={},
                                            applicant_name="A", applicant_email="a@example.org")
            case, created = submit_application(draft.token)
            assert created
            numbers.append(int(case.reference.rsplit("-", 1)[1]))
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_bad_answers_show_errors_next_to_fields_and_create_nothing(client, tenant_a,
                                                                   north_service):
    data = dict(GOOD_ANSWERS, applicant_email="nope", snils="1", home_3="")
    response = post_form(client, data=data, files={})
    assert response.status_code == 400
    body = response.content.decode()
    assert "govuk-error-summary" in body and 'href="#id_snils"' in body
    assert 'href="#id_certificate"' in body and 'id="id_snils-error"' in body
    assert 'value="Анна Иванова"' in body  # what was typed is kept
    with tenant_context(tenant_a):
        assert not ApplicationDraft.objects.exists() and not Case.objects.exists()


@pytest.mark.parametrize("payload", [
    {"applicant_name": ["a", "b"], "children": ["1", "2"]},
    {"born": "2020-13-45", "clubs": "Chess", "benefits": ["yes", "no"]},
    {"home_0": "x" * 10000, "snils": "\x00\x01", "school": ""},
])
def test_garbage_never_causes_a_server_error(client, north_service, payload):
    response = post_form(client, data=dict(GOOD_ANSWERS, **payload))
    assert response.status_code in (302, 400)


def test_double_submission_makes_one_case(client, tenant_a, north_service):
    post_form(client)
    first, token = submit(client)
    again = client.post("/ru/apply/building-permit/check/", {"draft": token}, **NORTH)
    assert first.status_code == again.status_code == 302
    assert again["Location"] == first["Location"]
    with tenant_context(tenant_a):
        assert Case.objects.count() == 1
        case, created = submit_application(uuid.UUID(token))  # a retried request
        assert not created and Case.objects.count() == 1
    # Back button to the check page after sending: straight to the confirmation.
    back = client.get("/ru/apply/building-permit/check/", **NORTH)
    assert back.status_code == 302 and back["Location"].endswith("/done/")


#: Statements of one submit POST under the test's transaction (savepoints where production
#: has BEGIN/COMMIT): the session read; then in the submission's transaction the draft
#: (locked, with its form version), the reference prefix and number (one statement), the
#: case, one statement for its files, the draft and its "submitted" event (attached, the draft
#: marked, stale files deleted, the event written), and one INSERT of the receipts; then the
#: session saved with one UPDATE (dgbox/sessions.py; a new session would be one INSERT). The
#: service at its address, the workflow version, the tracking link's domain, the receipt
#: templates and whether the tenant has an active webhook subscription come from the
#: tenant's cache (tenants/tenant_cache.py). bench/submit_step.py measures what each costs;
#: a change that adds one should say why.
SUBMIT_QUERIES = 9


def test_one_submission_takes_a_fixed_number_of_queries_whatever_the_channels(
        client, tenant_a, north_service, django_assert_num_queries,
        django_capture_on_commit_callbacks):
    post_form(client)
    submit(client)  # the tenant's first case also makes the standard workflow's version
    post_form(client)
    submit(client)  # which the next one reads once, and keeps in the tenant's cache
    post_form(client, data=dict(GOOD_ANSWERS, applicant_phone="+7 912 345-67-89"))
    check = client.get("/ru/apply/building-permit/check/", **NORTH).content.decode()
    token = re.search(r'name="draft" value="([0-9a-f-]+)"', check).group(1)
    with django_capture_on_commit_callbacks() as queued, \
            django_assert_num_queries(SUBMIT_QUERIES):
        response = client.post("/ru/apply/building-permit/check/", {"draft": token}, **NORTH)
    assert response.status_code == 302 and response["Location"].endswith("/done/")
    assert len(queued) == 1  # the receipts reach the broker after commit, in one callback
    with tenant_context(tenant_a):
        case = Case.objects.get(submission_key=token)
        assert case.status == "received" and case.workflow_version is not None
        assert case.due_date is not None and case.files.count() == 1
        assert sorted(Message.objects.filter(topic=case.reference)
                      .values_list("channel", "status")) == [("email", "pending"),
                                                             ("sms", "pending")]
        assert list(case.events.values_list("kind", flat=True)) == ["submitted"]
    # A replay (double click, a retried request) reads the draft and answers with its case.
    again = client.post("/ru/apply/building-permit/check/", {"draft": token}, **NORTH)
    assert again.status_code == 302 and again["Location"] == response["Location"]
    with tenant_context(tenant_a):
        assert Case.objects.filter(submission_key=token).count() == 1
        assert Message.objects.filter(topic=case.reference).count() == 2


def test_a_draft_of_another_service_is_submitted_to_its_own_service(tenant_a, north_service):
    """The check page hands the service it has; a draft of another service (a token pasted
    into another form) still becomes a case of its own service."""
    with tenant_context(tenant_a):
        other = OnlineServiceFactory(slug="street-trading", spec=[
            {"type": "text", "name": "purpose", "label": "Purpose"}])
        draft = ApplicationDraftFactory(service=other, form_answers={"purpose": "x"})
        service = OnlineService.objects.select_related("page").get(pk=north_service.pk)
        case, created = submit_application(draft.token, service=service)
        assert created and case.service_id == other.pk
        assert case.form_version_id == draft.form_version_id


def test_unknown_or_forged_draft_token_is_a_clear_400(client, north_service):
    for token in ("not-a-uuid", str(uuid.uuid4()), ""):
        response = client.post("/ru/apply/building-permit/check/", {"draft": token}, **NORTH)
        assert response.status_code == 400
        assert "Nothing was sent" in response.content.decode() or \
            "Ничего не отправлено" in response.content.decode()


def test_uploaded_file_names_cannot_escape_or_leak(client, tenant_a, north_service):
    files = {"certificate": SimpleUploadedFile("../../etc/passwd.pdf", PDF,
                                               content_type="application/pdf")}
    assert post_form(client, files=files).status_code == 302
    submit(client)
    with tenant_context(tenant_a):
        stored = Case.objects.get().files.get()
        assert stored.original_name == "passwd.pdf"
        assert ".." not in stored.storage_name and "passwd" not in stored.storage_name
        assert re.fullmatch(r"uploads/[0-9a-f]{32}/[0-9a-f]{32}\.pdf", stored.storage_name)


def test_wrong_content_type_is_refused_whatever_the_name(client, tenant_a, north_service):
    files = {"certificate": SimpleUploadedFile("scan.pdf", PNG, content_type="application/pdf")}
    response = post_form(client, files=files)
    assert response.status_code == 400
    with tenant_context(tenant_a):
        assert not ApplicationDraft.objects.exists()


def test_request_larger_than_the_form_allows_gets_413_not_500(client, north_service):
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * (3 * 1024 * 1024))
    response = post_form(client, files={"certificate": big})
    assert response.status_code == 413


def test_file_kept_between_tries_and_tenant_b_cannot_read_it(client, tenant_a, tenant_b,
                                                             north_service):
    assert post_form(client).status_code == 302
    # Back to the form to change an answer: the upload is remembered, not asked again.
    page = client.get("/ru/apply/building-permit/", **NORTH).content.decode()
    assert "справка.pdf" in page
    assert post_form(client, files={}).status_code == 302
    submit(client)
    with tenant_context(tenant_a):
        name = Case.objects.get().files.get().storage_name
        assert storages["private"].exists(name)
    with tenant_context(tenant_b):
        assert not storages["private"].exists(name)


def test_a_file_chosen_again_replaces_the_earlier_one(client, tenant_a, north_service,
                                                     django_capture_on_commit_callbacks):
    """Issue 14: replacing a file left the first upload on the draft, so the case got both."""
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client).status_code == 302
    with tenant_context(tenant_a):
        first = ApplicationDraft.objects.get().files.get()
    second = SimpleUploadedFile("новая справка.pdf", PDF + b"%second\n",
                                content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client, files={"certificate": second}).status_code == 302
    with tenant_context(tenant_a):
        draft = ApplicationDraft.objects.get()
        kept = draft.files.get()
        assert kept.pk != first.pk and kept.original_name == "новая_справка.pdf"
        assert draft.answers["certificate"]["file"] == str(kept.pk)
        assert not storages["private"].exists(first.storage_name)
    with django_capture_on_commit_callbacks(execute=True):
        submit(client)
    with tenant_context(tenant_a):
        case = Case.objects.get()
        assert list(case.files.values_list("pk", flat=True)) == [kept.pk]
        assert storages["private"].open(kept.storage_name).read() == PDF + b"%second\n"


def test_a_stale_file_left_on_a_draft_is_not_attached_to_the_case(
        client, tenant_a, north_service, django_capture_on_commit_callbacks):
    """A draft saved before the fix may still hold the file it replaced: the submission
    attaches only the file the answers name and deletes the other."""
    assert post_form(client).status_code == 302
    with tenant_context(tenant_a):
        draft = ApplicationDraft.objects.get()
        named = draft.files.get()
        stale = UploadedFile.objects.create(
            draft=draft, field_name="certificate", storage_name=f"uploads/{draft.token.hex}/x.pdf",
            original_name="old.pdf", extension="pdf", content_type="application/pdf",
            size=len(PDF), sha256="0" * 64)
        storages["private"].save(stale.storage_name, SimpleUploadedFile("x.pdf", PDF))
    with django_capture_on_commit_callbacks(execute=True):
        submit(client)
    with tenant_context(tenant_a):
        assert list(Case.objects.get().files.values_list("pk", flat=True)) == [named.pk]
        assert not UploadedFile.objects.filter(pk=stale.pk).exists()
        assert not storages["private"].exists(stale.storage_name)


def test_case_pages_are_never_cached_and_carry_no_personal_data_in_urls(client, north_service):
    urls = []
    response = client.get("/ru/apply/building-permit/", **NORTH)
    assert "no-store" in response["Cache-Control"]
    response = post_form(client)
    urls.append(response["Location"])
    response = client.get(urls[-1], **NORTH)
    assert "no-store" in response["Cache-Control"]
    response, _token = submit(client)
    urls.append(response["Location"])
    assert "no-store" in client.get(urls[-1], **NORTH)["Cache-Control"]
    assert "no-store" in client.get("/ru/track/", **NORTH)["Cache-Control"]
    for url in urls:
        assert "anna" not in url.lower() and "NOR-" not in url


def test_office_staff_enter_an_application_for_a_citizen(client, tenant_a, north_service):
    with tenant_context(tenant_a):
        clerk = StaffFactory(username="clerk", permissions=["services.apply_on_behalf"])
        client.force_login(clerk)  # the session lives in the tenant's schema
    page = client.get("/ru/apply/building-permit/", **NORTH).content.decode()
    assert 'name="assist-channel"' in page
    data = dict(GOOD_ANSWERS, **{"assist-channel": "office"})
    assert post_form(client, data=data).status_code == 302
    submit(client)
    with tenant_context(tenant_a):
        case = Case.objects.get()
        assert case.channel == "office" and case.entered_by == clerk
        event = case.events.get(kind="submitted")
        assert event.actor == clerk and event.actor_role == "staff"


def test_a_citizen_cannot_claim_another_channel(client, tenant_a, north_service):
    page = client.get("/ru/apply/building-permit/", **NORTH).content.decode()
    assert "assist-channel" not in page
    post_form(client, data=dict(GOOD_ANSWERS, **{"assist-channel": "office"}))
    submit(client)
    with tenant_context(tenant_a):
        case = Case.objects.get()
        assert case.channel == "online" and case.entered_by is None


def test_fee_is_paid_through_the_local_provider(client, tenant_a,
                                                django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        OnlineServiceFactory(slug="street-trading")
    connection.set_schema_to_public()
    post_form(client, slug="street-trading")
    response, _token = submit(client, slug="street-trading")
    done = client.get(response["Location"], **NORTH).content.decode()
    pay_url = re.search(r'href="(/ru/pay/[0-9a-f-]+/)"', done).group(1)
    assert client.get(pay_url, **NORTH).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        paid = client.post(pay_url, {"outcome": "pay"}, **NORTH)
    assert paid.status_code == 200
    client.post(pay_url, {"outcome": "decline"}, **NORTH)  # a late second click changes nothing
    with tenant_context(tenant_a):
        payment = Payment.objects.get()
        assert payment.status == "paid" and payment.amount == 1500
        assert payment.case.events.filter(kind="payment").count() == 1
        assert Message.objects.filter(topic=payment.case.reference,
                                      key="payment_received").exists()


def test_declined_payment_stays_owed(client, tenant_a):
    with tenant_context(tenant_a):
        OnlineServiceFactory(slug="street-trading")
    connection.set_schema_to_public()
    post_form(client, slug="street-trading")
    response, _token = submit(client, slug="street-trading")
    done = client.get(response["Location"], **NORTH).content.decode()
    pay_url = re.search(r'href="(/ru/pay/[0-9a-f-]+/)"', done).group(1)
    client.post(pay_url, {"outcome": "decline"}, **NORTH)
    with tenant_context(tenant_a):
        assert Payment.objects.get().status == "declined"
        assert CaseEvent.objects.get(kind="payment").data["status"] == "declined"


def test_changing_the_form_keeps_earlier_cases_on_their_version(client, tenant_a, north_service):
    post_form(client)
    submit(client)
    with tenant_context(tenant_a):
        service = OnlineService.objects.get(pk=north_service.pk)
        spec = [dict(f) for f in FORM_SPEC] + [{"type": "text", "name": "extra", "label": "Extra",
                                           "required": False}]
        service.form = stream_data_from_spec(spec)
        service.save()
        assert service.versions.count() == 2
        service.save()  # no change, no new version
        assert service.versions.count() == 2
        first = Case.objects.get()
        assert first.form_version.number == 1
        assert "extra" not in {f["name"] for f in first.form_version.spec}


def test_closed_service_says_so(client, tenant_a, north_service):
    with tenant_context(tenant_a):
        OnlineService.objects.filter(pk=north_service.pk).update(accepting=False)
    response = client.get("/ru/apply/building-permit/", **NORTH)
    assert response.status_code == 503
    assert client.get("/ru/apply/no-such-service/", **NORTH).status_code == 404


def test_service_page_links_to_the_online_form(client, north_service):
    body = client.get("/ru/services/building-permit/", **NORTH).content.decode()
    assert 'href="/ru/apply/building-permit/"' in body


def test_a_service_of_tenant_a_is_not_found_on_tenant_b(client, north_service):
    assert client.get("/ru/apply/building-permit/", **SOUTH).status_code == 404


def test_invalid_form_definition_is_refused_when_saved(tenant_a):
    from django.core.exceptions import ValidationError

    with tenant_context(tenant_a):
        page = ServicePage.objects.get(slug="building-permit", locale__language_code="ru")
        service = OnlineService(page=page, form=stream_data_from_spec([
            {"type": "yes_no", "name": "a", "label": "A"},
            {"type": "text", "name": "b", "label": "B", "show_if": {"field": "a",
                                                                    "value": "maybe"}}]))
        with pytest.raises(ValidationError) as caught:
            service.full_clean()
        assert "form" in caught.value.message_dict


def test_two_simultaneous_submissions_of_one_draft_make_one_case(tenant_a, in_thread):
    """Two requests racing with the same draft (double click on two connections): the draft
    row lock lets one create the case; the other gets the same case back."""
    import threading

    def prepare():
        with tenant_context(tenant_a):
            service = OnlineServiceFactory(spec=[{"type": "text", "name": "purpose",
                                                  "label": "Purpose"}])
            draft = ApplicationDraftFactory(service=service, form_answers={"purpose": "x"},
                                            applicant_name="A",
                                            applicant_email="a@example.org")
            return service.pk, draft.token

    service_pk, token = in_thread(prepare)
    barrier = threading.Barrier(2)
    results = []

    def racer():
        with tenant_context(tenant_a):
            barrier.wait(30)
            case, created = submit_application(token)
            results.append((case.pk, created))

    threads = [threading.Thread(target=lambda: in_thread(racer)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    def count_and_clean():
        with tenant_context(tenant_a):
            cases = list(Case.objects.filter(submission_key=token).values_list("pk", flat=True))
            Message.objects.filter(topic__in=Case.objects.filter(
                submission_key=token).values("reference")).delete()
            ApplicationDraft.objects.filter(pk=token).delete()
            Case.objects.filter(submission_key=token).delete()
            OnlineService.objects.filter(pk=service_pk).delete()
            return cases

    cases = in_thread(count_and_clean)
    assert len(cases) == 1
    assert sorted(created for _pk, created in results) == [False, True]
    assert {pk for pk, _created in results} == {cases[0]}


def test_staff_open_files_through_the_authorised_view_only(client, tenant_a, tenant_b,
                                                           north_service):
    post_form(client)
    submit(client)
    with tenant_context(tenant_a):
        stored = Case.objects.get().files.get()
        staff = get_user_model().objects.create_superuser("boss", "boss@north.example", "x")
    anonymous = client.get(f"/admin/cases/files/{stored.pk}/", **NORTH)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    with tenant_context(tenant_a):
        client.force_login(staff)
    response = client.get(f"/admin/cases/files/{stored.pk}/", **NORTH)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert "attachment" in response["Content-Disposition"]
    with tenant_context(tenant_a):
        event = CaseEvent.objects.get(kind="file_viewed")
        assert event.actor == staff and event.data["file"] == str(stored.pk)
        assert "anna" not in str(event.data).lower()  # no personal data in the audit trail
    # The same id on tenant B: B's staff (a superuser there) gets a 404, not A's file.
    with tenant_context(tenant_b):
        other = get_user_model().objects.create_superuser("boss", "boss@south.example", "x")
        client.force_login(other)
    assert client.get(f"/admin/cases/files/{stored.pk}/", **SOUTH).status_code == 404
