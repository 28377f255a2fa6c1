"""Applications over the API (services/api/applications.py) with the web form's guarantees,
on real PostgreSQL and a real S3 server (SeaweedFS).

- A submission makes one case as the web form does: reference, rules, receipt after commit,
  channel "online", files sniffed and stored in the tenant's private S3 prefix.
- Invalid answers are a 400 problem with messages per question, in Russian or English.
- Idempotency-Key: required and checked; a retry gets the same case (200, same body); the
  same key with another request is a 409; two racing requests make one case; keys are per
  client.
- The tenant's apply limit counts API submissions (429); S3 unreachable is a 503 that saves
  nothing, and the same request works later. Hostile JSON never gets a 5xx (hypothesis).
- Scopes and tenant binding: 401 without a key or with another tenant's, 403 without the
  scope, 404 for another tenant's service; a client reads only the cases it submitted.
"""

import json
import re
import socket
import threading
import uuid

import pytest
from django.core import mail
from django.core.cache import caches
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra import s3
from services.api.models import ApiClient, ApiSubmission
from services.api.scopes import Scope
from services.cases import engine
from services.models import (
    ApplicationDraft,
    AutomatedDecision,
    Case,
    OnlineService,
    UploadedFile,
)
from services.notifications.models import Message

from .factories import (
    NORTH,
    PDF,
    PERMIT_SPEC,
    PNG,
    RULES,
    SOUTH,
    OnlineServiceFactory,
    post_form,
    submit,
)

pytestmark = pytest.mark.django_db
REFERENCE = re.compile(r"^NOR-\d{4}-\d{6}$")
PERMIT = "/api/v1/services/land-plot-scheme/applications"
FILES = "/api/v1/services/building-permit/applications"
CONTACT = {"applicant_name": "Анна Иванова", "applicant_email": "anna@example.org"}
#: FORM_SPEC's answers (tests/factories.py) as JSON, the certificate aside.
FULL_ANSWERS = {
    **CONTACT, "purpose": "Школа", "children": 2, "born": "2019-05-01", "school": "No. 1",
    "clubs": ["Chess"], "benefits": False,
    "home": {"line1": "ул. Ленина, 1", "town": "Северск", "postcode": "101000"},
    "snils": "112-233-445 95",
}


def make_client(name, scopes):
    client = ApiClient.objects.create(name=name, scopes=scopes)
    return client, client.issue_key()[1]


@pytest.fixture
def api(tenant_a):
    """North's permit service (rules) and files service, and two clients that may submit
    and read."""
    with tenant_context(tenant_a):
        permit = OnlineServiceFactory(slug="land-plot-scheme", spec=PERMIT_SPEC, rules=RULES)
        files = OnlineServiceFactory()
        one, one_key = make_client("Госуслуги", [Scope.SUBMIT_APPLICATIONS,
                                                 Scope.READ_OWN_SUBMISSIONS])
        two, two_key = make_client("МФЦ", [Scope.SUBMIT_APPLICATIONS,
                                           Scope.READ_OWN_SUBMISSIONS])
    connection.set_schema_to_public()
    return {"permit": permit, "files": files, "one": one, "key": one_key, "two": two,
            "key2": two_key}


def send(path, answers=None, *, key, idem="k-1", host=NORTH, language=None, files=None,
         body=None):
    """POST an application: JSON, or multipart when `files` are given."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    if idem is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idem
    if language:
        headers["HTTP_ACCEPT_LANGUAGE"] = language
    client = Client(**host)
    if files is not None:
        return client.post(path, {"answers": json.dumps(answers), **files}, **headers)
    payload = body if body is not None else json.dumps({"answers": answers})
    return client.post(path, payload, content_type="application/json", **headers)


def read(path, key, host=NORTH):
    return Client(**host).get(path, HTTP_AUTHORIZATION=f"Bearer {key}")


def permit_answers(floors=5, **extra):
    return {**CONTACT, "floors": floors, "heritage": "no", **extra}


def certificate(content=PDF, name="справка.pdf"):
    return {"certificate": SimpleUploadedFile(name, content, content_type="application/pdf")}


def test_a_submission_with_a_file_makes_one_case_as_the_web_form_does(
        api, tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = send(FILES, FULL_ANSWERS, key=api["key"], files=certificate())
    assert response.status_code == 201, response.content
    assert callbacks  # the receipt leaves after the commit
    body = response.json()
    assert REFERENCE.match(body["reference"])
    assert response["Location"].endswith(f"/api/v1/applications/{body['reference']}")
    assert body["service"] == "building-permit" and body["status"] == "received"
    assert [item["kind"] for item in body["history"]] == ["submitted"]
    assert response["Cache-Control"] == "no-store"

    with tenant_context(tenant_a):
        case = Case.objects.get(reference=body["reference"])
        assert case.channel == "online" and case.applicant_name == "Анна Иванова"
        assert case.answers["home"]["town"] == "Северск" and case.answers["purpose"] == "Школа"
        assert case.answers["benefits"] == "no" and case.answers["clubs"] == ["Chess"]
        assert case.api_submission.client == api["one"]
        assert case.api_submission.idempotency_key == "k-1"
        assert list(case.events.values_list("kind", flat=True)) == ["submitted"]
        stored = case.files.get()
        assert stored.original_name == "справка.pdf" and stored.content_type == "application/pdf"
        key = storages["private"].key_for(stored.storage_name)
        assert key.startswith(f"tenants/{tenant_a.schema_name}/uploads/")
        assert Message.objects.get(topic=case.reference, channel="email").status == "sent"
    assert s3.head(key)["ContentLength"] == len(PDF)  # on the real bucket, in A's prefix
    assert [m.to for m in mail.outbox] == [["anna@example.org"]]

    # The web form's case for the same answers has a reference of the same shape.
    web = Client()
    post_form(web)
    submit(web)
    with tenant_context(tenant_a):
        web_case = Case.objects.exclude(reference=body["reference"]).get()
        assert REFERENCE.match(web_case.reference)
        assert not ApiSubmission.objects.filter(case=web_case).exists()


def test_the_services_automatic_rules_decide_as_for_the_web_form(api, tenant_a):
    response = send(PERMIT, permit_answers(floors=2), key=api["key"], language="en")
    assert response.status_code == 201
    assert response.json()["status"] == "approved"
    assert response["Content-Language"] == "en"
    with tenant_context(tenant_a):
        decision = AutomatedDecision.objects.get(case__reference=response.json()["reference"])
        assert decision.rule_name == "Small house"


@pytest.mark.parametrize("language, required, name_needed", [
    ("en", "Fill in “Floors”.", "Enter your full name."),
    ("ru", "Заполните поле «Floors».", "Введите фамилию, имя и отчество."),
])
def test_invalid_answers_are_a_problem_per_question_in_the_requests_language(
        api, tenant_a, language, required, name_needed):
    answers = {"applicant_email": "anna@example.org", "heritage": "maybe",
               "colour": "red", "floors": None}
    response = send(PERMIT, answers, key=api["key"], language=language)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert set(errors) == {"applicant_name", "floors", "heritage", "colour"}
    assert errors["floors"] == [required]
    assert errors["applicant_name"] == [name_needed]
    assert "colour" in errors["colour"][0]
    with tenant_context(tenant_a):
        assert not Case.objects.exists() and not ApplicationDraft.objects.exists()


@pytest.mark.parametrize("answers, field", [
    ({"floors": [5]}, "floors"),
    ({"floors": {"n": 5}}, "floors"),
    ({"heritage": ["no"]}, "heritage"),
    ({"applicant_name": True}, "applicant_name"),
])
def test_answers_of_the_wrong_json_type_are_named(api, answers, field):
    response = send(PERMIT, {**permit_answers(), **answers}, key=api["key"], language="en")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_cyrillic_is_kept_and_nul_bytes_are_refused(api, tenant_a):
    name = "Пётр Ёлкин-Щукин ʼ" + "ж" * 150
    response = send(PERMIT, permit_answers(applicant_name=name), key=api["key"])
    assert response.status_code == 201
    with tenant_context(tenant_a):
        assert Case.objects.get(reference=response.json()["reference"]).applicant_name == name

    nul = send(PERMIT, permit_answers(applicant_name="Анна\x00"), key=api["key"], idem="k-2",
               language="ru")
    assert nul.status_code == 400
    assert list(nul.json()["errors"]) == ["applicant_name"]
    odd_name = send(PERMIT, {**permit_answers(), "\x00\u202e": "x"}, key=api["key"], idem="k-3")
    assert odd_name.status_code == 400 and "\x00\u202e" in odd_name.json()["errors"]


@pytest.mark.parametrize("body", [
    '{"answers": {"applicant_name": "\\ud800"}}',  # a lone surrogate: valid JSON, not text
    '{"answers": [1, 2]}', '{"answwers": {}}', "[]", "null", "{", "\xff\xfe",
    '{"answers": {"a": 1}}' + "x", "[" * 100_000, '{"answers": {"floors": NaN}}',
])
def test_unreadable_bodies_are_400_problems(api, body):
    response = send(PERMIT, key=api["key"], body=body)
    assert response.status_code == 400, body
    assert response["Content-Type"] == "application/problem+json"


def test_multipart_without_the_answers_part_or_with_bad_json(api):
    client = Client(**NORTH)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api['key']}", "HTTP_IDEMPOTENCY_KEY": "m"}
    assert client.post(FILES, {"x": "1"}, **headers).status_code == 400
    assert client.post(FILES, {"answers": "{"}, **headers).status_code == 400
    other = client.post(FILES, "a=b", content_type="application/x-www-form-urlencoded",
                        **headers)
    assert other.status_code == 415


@pytest.mark.parametrize("idem", [None, "", " ", "ключ", "a\x00b", "x" * 201, "tab\there"])
def test_a_missing_or_malformed_idempotency_key_is_refused(api, tenant_a, idem):
    response = send(PERMIT, permit_answers(), key=api["key"], idem=idem, language="en")
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    with tenant_context(tenant_a):
        assert not Case.objects.exists()


def test_the_longest_key_and_any_printable_ascii_are_accepted(api):
    for n, idem in enumerate(["x" * 200, "~!@#$%^&*()_+{}|:<>? 0"]):
        response = send(PERMIT, permit_answers(floors=5 + n), key=api["key"], idem=idem)
        assert response.status_code == 201


def test_a_retry_gets_the_same_case_and_another_request_a_conflict(api, tenant_a):
    first = send(PERMIT, permit_answers(), key=api["key"], idem="retry-me")
    assert first.status_code == 201
    # The same request, its JSON written another way (key order, spacing): the same case.
    reordered = json.dumps({"answers": dict(reversed(list(permit_answers().items())))},
                           indent=2)
    for body in (None, reordered):
        again = send(PERMIT, permit_answers(), key=api["key"], idem="retry-me", body=body)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert again["Location"] == first["Location"]

    other = send(PERMIT, permit_answers(floors=6), key=api["key"], idem="retry-me",
                 language="en")
    assert other.status_code == 409
    assert other["Content-Type"] == "application/problem+json"
    assert first.json()["reference"] in other.json()["detail"]
    elsewhere = send(FILES, permit_answers(), key=api["key"], idem="retry-me")
    assert elsewhere.status_code == 409  # the same key for another service
    with tenant_context(tenant_a):
        assert Case.objects.count() == 1 and ApplicationDraft.objects.count() == 1


def test_a_refused_request_records_nothing_and_may_be_corrected_under_its_key(api, tenant_a):
    assert send(PERMIT, {"floors": 5}, key=api["key"], idem="fix-me").status_code == 400
    assert send(PERMIT, permit_answers(), key=api["key"], idem="fix-me").status_code == 201


def test_keys_are_per_client(api, tenant_a):
    one = send(PERMIT, permit_answers(), key=api["key"], idem="shared")
    two = send(PERMIT, permit_answers(), key=api["key2"], idem="shared")
    assert one.status_code == two.status_code == 201
    assert one.json()["reference"] != two.json()["reference"]


def test_two_racing_requests_with_one_key_make_one_case(api, tenant_a, in_thread):
    """Two connections POST the same application with the same key at the same moment: the
    advisory lock (and the unique constraint behind it) lets one make the case; the other
    answers with it."""

    def prepare():
        with tenant_context(tenant_a):
            service = OnlineServiceFactory(slug="school-enrolment", spec=PERMIT_SPEC)
            client, key = make_client("Гонщик", [Scope.SUBMIT_APPLICATIONS])
            return service.pk, client.pk, key

    service_pk, client_pk, key = in_thread(prepare)
    barrier = threading.Barrier(2)
    results = []

    def racer():
        barrier.wait(30)
        response = send("/api/v1/services/school-enrolment/applications", permit_answers(),
                        key=key, idem="race")
        results.append((response.status_code, response.json().get("reference")))

    threads = [threading.Thread(target=in_thread, args=(racer,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    def count_and_clean():
        with tenant_context(tenant_a):
            cases = Case.objects.filter(service_id=service_pk)
            references = list(cases.values_list("reference", flat=True))
            Message.objects.filter(topic__in=references).delete()
            ApiSubmission.objects.filter(client_id=client_pk).delete()
            ApplicationDraft.objects.filter(service_id=service_pk).delete()
            cases.delete()
            OnlineService.objects.filter(pk=service_pk).delete()
            ApiClient.objects.filter(pk=client_pk).delete()
            return references

    references = in_thread(count_and_clean)
    assert len(references) == 1
    assert sorted(status for status, _ref in results) == [200, 201]
    assert {ref for _status, ref in results} == set(references)


@pytest.mark.parametrize("content, name", [
    (PNG, "справка.pdf"),                      # a PNG named .pdf: sniffed, not believed
    (b"<html><script>alert(1)</script>", "x.pdf"),
    (b"", "empty.pdf"),
])
def test_a_file_of_the_wrong_type_is_refused_and_nothing_stored(api, tenant_a, s3_bucket,
                                                                 content, name):
    prefix = f"tenants/{tenant_a.schema_name}/uploads/"
    before = {o.key for o in s3.iter_objects(prefix)}  # earlier tests' objects stay
    response = send(FILES, FULL_ANSWERS, key=api["key"], files=certificate(content, name),
                    language="en")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["certificate"]
    with tenant_context(tenant_a):
        assert not UploadedFile.objects.exists() and not Case.objects.exists()
    assert {o.key for o in s3.iter_objects(prefix)} == before


def test_file_parts_must_match_file_questions(api):
    wrong = {"purpose": SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")}
    response = send(FILES, FULL_ANSWERS, key=api["key"], files={**certificate(), **wrong})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["purpose"]
    in_json = send(FILES, {**FULL_ANSWERS, "certificate": "c2NhbiBvZiBhIHBkZg=="},
                   key=api["key"])
    assert in_json.status_code == 400 and list(in_json.json()["errors"]) == ["certificate"]


def test_a_file_over_the_questions_limit_is_refused(api, tenant_a):
    big = PDF + b"0" * (1024 * 1024)  # the certificate question allows 1 MB
    response = send(FILES, FULL_ANSWERS, key=api["key"], files=certificate(big))
    assert response.status_code == 400 and list(response.json()["errors"]) == ["certificate"]
    huge = send(FILES, FULL_ANSWERS, key=api["key"], idem="k-2",
                files=certificate(PDF + b"0" * (3 * 1024 * 1024)))
    assert huge.status_code == 413  # past the whole form's limit: refused unread


def test_scopes_and_keys(api, tenant_a):
    with tenant_context(tenant_a):
        _reader, read_only = make_client("Каталог", [Scope.READ_CATALOGUE])
        _submitter, submit_only = make_client("Только подача", [Scope.SUBMIT_APPLICATIONS])
    connection.set_schema_to_public()
    assert send(PERMIT, permit_answers(), key=read_only).status_code == 403
    assert send(PERMIT, permit_answers(), key=None).status_code == 401
    assert read("/api/v1/applications", read_only).status_code == 403
    assert read("/api/v1/applications", submit_only).status_code == 403
    assert Client(**NORTH).get("/api/v1/applications").status_code == 401
    made = send(PERMIT, permit_answers(), key=submit_only)
    assert made.status_code == 201
    assert read(f"/api/v1/applications/{made.json()['reference']}",
                submit_only).status_code == 403
    with tenant_context(tenant_a):
        assert Case.objects.count() == 1


def test_tenant_binding(api, tenant_b):
    """A's key on B's host is unknown there; B's key cannot reach A's service."""
    assert send(PERMIT, permit_answers(), key=api["key"], host=SOUTH).status_code == 401
    with tenant_context(tenant_b):
        _client, south_key = make_client("Южный клиент", [Scope.SUBMIT_APPLICATIONS,
                                                          Scope.READ_OWN_SUBMISSIONS])
    connection.set_schema_to_public()
    response = send(PERMIT, permit_answers(), key=south_key, host=SOUTH)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    made = send(PERMIT, permit_answers(), key=api["key"])
    assert made.status_code == 201
    reference = made.json()["reference"]
    assert read(f"/api/v1/applications/{reference}", south_key, host=SOUTH).status_code == 404
    assert read("/api/v1/applications", south_key, host=SOUTH).json()["results"] == []


def test_a_client_reads_only_what_it_submitted(api, tenant_a):
    mine = [send(PERMIT, permit_answers(floors=5 + n), key=api["key"], idem=f"mine-{n}")
            .json()["reference"] for n in range(3)]
    theirs = send(PERMIT, permit_answers(), key=api["key2"], idem="theirs").json()["reference"]
    web = Client()
    post_form(web)
    submit(web)
    with tenant_context(tenant_a):
        web_reference = Case.objects.get(api_submission__isnull=True).reference

    listed, cursor = [], "/api/v1/applications?limit=2"
    while cursor:
        page = read(cursor, api["key"])
        assert page.status_code == 200 and page["Cache-Control"] == "no-store"
        listed += [item["reference"] for item in page.json()["results"]]
        cursor = page.json()["next"]
    assert listed == list(reversed(mine))  # newest first, across pages

    one = read(f"/api/v1/applications/{mine[0].lower()}", api["key"])
    assert one.status_code == 200 and one.json()["reference"] == mine[0]
    assert one.json()["history"][0]["kind"] == "submitted"
    for other in (theirs, web_reference, "NOR-2026-999999", "not a reference"):
        response = read(f"/api/v1/applications/{other}", api["key"])
        assert response.status_code == 404, other
        assert response["Content-Type"] == "application/problem+json"
    assert read("/api/v1/applications?cursor=bogus", api["key"]).status_code == 404


def test_the_public_history_follows_the_case(api, tenant_a):
    made = send(PERMIT, permit_answers(), key=api["key"], language="en").json()
    with tenant_context(tenant_a):
        case = Case.objects.get(reference=made["reference"])
        engine.take(case.pk, "start_review", automatic=True)
    connection.set_schema_to_public()
    now = Client(**NORTH).get(f"/api/v1/applications/{made['reference']}",
                              HTTP_AUTHORIZATION=f"Bearer {api['key']}",
                              HTTP_ACCEPT_LANGUAGE="en").json()
    assert now["status"] == "in_review"
    assert [item["kind"] for item in now["history"]] == ["submitted", "status"]
    assert now["history"][1]["text"].startswith("Status:")


def test_a_closed_service_refuses_new_applications_but_answers_retries(api, tenant_a):
    first = send(PERMIT, permit_answers(), key=api["key"], idem="before")
    with tenant_context(tenant_a):
        OnlineService.objects.filter(pk=api["permit"].pk).update(accepting=False)
    connection.set_schema_to_public()
    assert send(PERMIT, permit_answers(), key=api["key"], idem="after").status_code == 503
    retry = send(PERMIT, permit_answers(), key=api["key"], idem="before")
    assert retry.status_code == 200 and retry.json() == first.json()


def test_an_unknown_service_is_404(api):
    for slug in ("no-such-service", "разрешение", "birth-registration"):
        response = send(f"/api/v1/services/{slug}/applications", permit_answers(),
                        key=api["key"], idem=str(uuid.uuid4()))
        assert response.status_code == 404, slug


#: Hostile JSON: every JSON type, nested, with NUL, controls, right-to-left overrides,
#: escaped lone surrogates, huge numbers and long text, under the form's names and others.
HOSTILE_TEXT = st.one_of(st.text(max_size=20), st.sampled_from(
    ["\x00", "\u202e", "\ud800", "ж" * 3000, "1e309", "-0", "2019-02-30", "  ", "<b>"]))
JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
              st.floats(allow_nan=False), HOSTILE_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(HOSTILE_TEXT, inner, max_size=3)), max_leaves=8)
NAMES = st.one_of(st.sampled_from([f["name"] for f in PERMIT_SPEC] + list(CONTACT)
                                  + ["applicant_phone"]), HOSTILE_TEXT)


@settings(max_examples=40, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(answers=st.dictionaries(NAMES, JSON_VALUE, max_size=6))
def test_hostile_answers_never_get_a_server_error(api, answers):
    response = send(PERMIT, answers, key=api["key"], idem=str(uuid.uuid4()))
    assert response.status_code in (201, 400), (answers, response.content[:300])


def test_the_tenants_apply_limit_counts_api_submissions(api, tenant_a, settings):
    for alias in ("default", "counters"):  # the test settings' caches outlive a test
        caches[alias].clear()
    settings.DGBOX_TENANT_APPLY_RATES = {"region": "2/3650d"}
    made = [send(PERMIT, permit_answers(), key=api["key"], idem=f"l-{n}").status_code
            for n in range(2)]
    refused = send(PERMIT, permit_answers(), key=api["key"], idem="l-2")
    assert made == [201, 201]
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused["Content-Type"] == "application/problem+json"
    with tenant_context(tenant_a):
        assert Case.objects.count() == 2


def test_files_not_stored_mean_nothing_saved_and_the_same_request_works_later(
        api, tenant_a, settings):
    """S3 unreachable: 503 with Retry-After, no case, no draft, no key recorded; the same
    request with the same key succeeds once S3 answers again."""
    working = settings.DGBOX_S3_ENDPOINT_URL
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.DGBOX_S3_ENDPOINT_URL = f"http://127.0.0.1:{sock.getsockname()[1]}"
    down = send(FILES, FULL_ANSWERS, key=api["key"], idem="s3", files=certificate())
    assert down.status_code == 503 and int(down["Retry-After"]) > 0
    with tenant_context(tenant_a):
        assert not Case.objects.exists() and not ApplicationDraft.objects.exists()
        assert not ApiSubmission.objects.exists()
    settings.DGBOX_S3_ENDPOINT_URL = working
    assert send(FILES, FULL_ANSWERS, key=api["key"], idem="s3",
                files=certificate()).status_code == 201
