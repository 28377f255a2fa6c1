"""Errors a citizen can act on (issue 12): every unanswered question is named, by its label,
in the error summary and next to the question; other errors are named in the summary; a
malformed tracking reference is explained with what a reference looks like."""

import html
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context

from services.applications import submission, tracking
from services.forms import spec as formspec

from .factories import OnlineServiceFactory

pytestmark = pytest.mark.django_db
NORTH = {"HTTP_HOST": "north.localhost"}
CAFE = [
    {"type": "text", "name": "cafe_name", "label": "Название кафе", "required": True},
    {"type": "date", "name": "opening", "label": "Дата открытия", "required": True},
    {"type": "yes_no", "name": "terrace", "label": "Есть ли летняя веранда?", "required": True},
    {"type": "choice", "name": "activity", "label": "Вид деятельности", "required": True,
     "choices": ["Кафе", "Столовая"]},
    {"type": "multi_choice", "name": "meals", "label": "Что подаёте", "required": True,
     "choices": ["Завтраки", "Обеды"]},
    {"type": "address", "name": "where", "label": "Адрес кафе", "required": True},
    {"type": "number", "name": "seats", "label": "Число мест", "required": True},
]
NAMED = {
    "cafe_name": "Заполните поле «Название кафе».",
    "opening": "Укажите дату в поле «Дата открытия».",
    "terrace": "Выберите ответ на вопрос «Есть ли летняя веранда?».",
    "activity": "Выберите ответ на вопрос «Вид деятельности».",
    "meals": "Выберите хотя бы один ответ на вопрос «Что подаёте».",
    "where": "Укажите адрес в поле «Адрес кафе».",
}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()  # tracking's rate-limit counters
    yield
    cache.clear()


@pytest.fixture
def cafe_service(tenant_a):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory(spec=CAFE)
    connection.set_schema_to_public()
    return service


def summary_of(page):
    match = re.search(r'<div class="govuk-error-summary".*?</ul>', page, re.S)
    assert match, "no error summary"
    return html.unescape(re.sub(r"<[^>]+>", "\n", match.group(0)))


def test_every_unanswered_question_is_named_in_the_summary_and_beside_it(client, cafe_service):
    response = client.post("/ru/apply/building-permit/", {
        "applicant_name": "", "applicant_email": "anna@example.org", "seats": "много"},
        **NORTH)
    assert response.status_code == 400
    page = response.content.decode()
    summary = summary_of(page)
    for name, message in NAMED.items():
        assert message in summary, message
        beside = re.search(rf'id="id_{name}-error">(.*?)</p>', page, re.S).group(1)
        assert message in html.unescape(beside), name
    assert "Введите фамилию, имя и отчество." in summary
    # Not a "required" error: the summary names the question the message is about.
    assert "Число мест: Введите число." in summary
    assert "Обязательное поле" not in page and "This field is required" not in page
    # The summary links each message to its question (the first input of a group).
    assert 'href="#id_cafe_name"' in page and 'href="#id_terrace_0"' in page


def test_messages_follow_the_language_they_are_shown_in():
    form = formspec.ApplicationForm([
        {"type": "text", "name": "cafe_name", "label": "Café name", "required": True},
        {"type": "yes_no", "name": "terrace", "label": "Summer terrace?", "required": True},
        {"type": "file", "name": "menu", "label": "Menu", "required": True,
         "file_kinds": ["pdf"], "max_size_mb": 1},
    ], {"applicant_name": "Anna", "applicant_email": "anna@example.org"}, {})
    with translation.override("en"):
        assert not form.is_valid()
        errors = {name: " ".join(messages) for name, messages in form.errors.items()}
        summary = [str(message) for _anchor, message in form.error_list()]
    assert errors == {"cafe_name": "Fill in “Café name”.",
                      "terrace": "Choose an answer to “Summer terrace?”.",
                      "menu": "Choose a file for “Menu”."}
    assert summary == list(errors.values())
    with translation.override("ru"):
        assert [str(m) for m in form.errors["cafe_name"]] == ["Заполните поле «Café name»."]


# --- tracking --------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["12345", "ABC-26-000123", "ABC2026000123", "север-2026-1"])
def test_a_malformed_reference_is_explained(client, tenant_a, typed):
    response = client.post("/ru/track/", {"reference": typed}, **NORTH)
    assert response.status_code == 400
    summary = summary_of(response.content.decode())
    assert "Номер заявления выглядит так: ABC-2026-000123" in summary
    assert "латинских букв, год и 6 цифр через дефис" in summary
    assert mail.outbox == []


def test_an_empty_reference_is_asked_for(client, tenant_a):
    response = client.post("/ru/track/", {"reference": "  "}, **NORTH)
    assert response.status_code == 400
    assert "Введите номер заявления." in summary_of(response.content.decode())


@pytest.mark.parametrize(("typed", "stored"), [
    (" nor-2026-000123 ", "NOR-2026-000123"),
    ("NOR 2026 000123", "NOR-2026-000123"),
    ("НОР–2026–000123", "HOP-2026-000123"),  # Cyrillic look-alikes and en dashes
    ("АВС-2026-0001234", "ABC-2026-0001234"),
])
def test_a_reference_typed_loosely_is_read(typed, stored):
    assert tracking.normalise_reference(typed) == stored
    assert tracking.reference_problem(typed) is None


def test_a_well_formed_reference_still_gets_the_same_answer(client, tenant_a):
    response = client.post("/ru/track/", {"reference": "nor 2026 999999"}, **NORTH)
    assert response.status_code == 302 and response["Location"].endswith("/track/code/")


def test_the_format_explained_is_the_one_references_are_made_in(tenant_a):
    with tenant_context(tenant_a):
        reference = submission.next_reference()
    assert tracking.REFERENCE_RE.match(reference), reference
