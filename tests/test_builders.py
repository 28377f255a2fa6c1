"""Builders, not codes (issue 12): a condition picks the earlier question and its answer from
lists, automatic rules are composed from lists and saved as the same JSON Logic, and each
problem is explained on the question, rule or part of it where it was made. Conversions both
ways on their own, then through the real admin views: the service page editor, whose
"Online application" tab holds the form and its rules."""

import json
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context
from wagtail.blocks.stream_block import StreamBlockValidationError

from cms.models import ServicePage
from services.cases.models import Channel
from services.forms.blocks import spec_from_stream, stream_data_from_spec
from services.models import OnlineService, Workflow
from services.rules import builder
from services.rules import logic as rules_logic
from services.rules.blocks import Context, RulesField, stream_data
from services.workflows.spec import STAFF_GROUP
from tenants import staff

from .factories import (
    NORTH,
    RULES,
    admin_in_english,
    block_definition,
    block_state,
    post_data,
    problems_in,
    service_page_data,
)

FORM = OnlineService._meta.get_field("form").stream_block


def question(kind, label, *, id=None, name="", condition=None, **options):
    value = {"label": label, "name": name, "help_text": "", "required": True,
             "show_if_field": "", "show_if_op": "eq", "show_if_value": "", **options}
    if condition:
        value.update(show_if_field=condition[0], show_if_op=condition[1],
                     show_if_value=condition[2] if len(condition) > 2 else "")
    return {"type": kind, "value": value, "id": id or str(uuid.uuid4())}


# --- conditions: chosen by the question's block, stored as the same spec ------------------
def test_a_condition_names_its_question_by_block_and_the_spec_by_field_name():
    children, heating = str(uuid.uuid4()), str(uuid.uuid4())
    raw = [
        question("yes_no", "Есть дети", id=children),
        question("choice", "Отопление", id=heating, choices=["Газ", "Электричество"]),
        question("text", "Сколько детей", condition=(children, "eq", "yes")),
        question("text", "Марка котла", condition=(heating, "eq", "Газ")),
        question("number", "Этажность", name="floors"),
        question("text", "Лифт", condition=("floors", "gt", "5")),  # named, as before lists
        question("phone", "Телефон соседа", condition=(children, "not_answered")),
    ]
    spec = spec_from_stream(FORM.to_python(raw))
    conditions = {f["name"]: f.get("show_if") for f in spec}
    assert conditions["skolko_detey"] == {"field": "est_deti", "value": "yes"}
    assert conditions["marka_kotla"] == {"field": "otoplenie", "value": "Газ"}
    assert conditions["lift"] == {"field": "floors", "value": "5", "op": "gt"}
    assert conditions["telefon_soseda"] == {"field": "est_deti", "op": "not_answered"}
    # Renaming or moving the question keeps the condition on it.
    raw[0]["value"]["label"] = "Есть ли у вас дети"
    raw.insert(0, raw.pop(1))
    spec = spec_from_stream(FORM.to_python(raw))
    assert {f["name"]: f.get("show_if") for f in spec}["skolko_detey"] == {
        "field": "est_li_u_vas_deti", "value": "yes"}


def test_a_spec_round_trips_through_the_builder_blocks():
    spec = [
        {"type": "number", "name": "floors", "label": "Этажность", "help_text": "",
         "required": True, "decimal_places": 0},
        {"type": "date", "name": "start", "label": "Начало", "help_text": "", "required": True,
         "show_if": {"field": "floors", "value": "3", "op": "gte"}, "when": "past"},
        {"type": "yes_no", "name": "heritage", "label": "Памятник?", "help_text": "",
         "required": True},
        {"type": "text", "name": "why", "label": "Почему", "help_text": "", "required": False,
         "show_if": {"field": "heritage", "value": "yes"}},
    ]
    assert spec_from_stream(FORM.to_python(stream_data_from_spec(spec))) == spec


def test_a_condition_saved_with_a_field_name_opens_as_the_question_it_names():
    raw = [question("yes_no", "Есть дети", name="kids", id="a1"),
           question("text", "Сколько", condition=("kids", "eq", "yes"), id="a2"),
           question("text", "Кто", condition=("est_deti", "eq", "yes"), id="a3")]
    state = FORM.get_form_state(FORM.to_python(raw))
    assert state[1]["value"]["show_if_field"] == ["a1"]
    assert state[2]["value"]["show_if_field"] == ["est_deti"]  # names nothing: kept as is


def _block_errors(raw):
    with translation.override("en"), pytest.raises(StreamBlockValidationError) as caught:
        FORM.clean(FORM.to_python(raw))
    return caught.value.as_json_data()


def test_a_condition_that_cannot_work_is_explained_on_the_part_where_it_was_made():
    kids, later = str(uuid.uuid4()), str(uuid.uuid4())
    errors = _block_errors([
        question("yes_no", "Есть дети", id=kids),
        question("text", "Сколько", condition=(later, "eq", "yes")),
        question("text", "Возраст", condition=(kids, "eq", "может быть")),
        question("text", "Кличка", condition=(kids, "gt", "1")),
        question("yes_no", "Собака", id=later),
    ])["blockErrors"]
    assert set(errors) == {1, 2, 3}
    assert "it can only depend on a question above it; “Собака” is not one" in \
        errors[1]["blockErrors"]["show_if_field"]["messages"][0]
    assert "“может быть” is not an answer to “Есть дети”" in \
        errors[2]["blockErrors"]["show_if_value"]["messages"][0]
    assert "compares numbers or dates; “Есть дети” is not a number" in \
        errors[3]["blockErrors"]["show_if_op"]["messages"][0]


def test_a_name_made_twice_is_shown_on_the_question_label_or_name():
    errors = _block_errors([question("text", "Имя"), question("text", "Имя"),
                            question("text", "Фамилия", name="imya")])["blockErrors"]
    assert "is used twice" in errors[1]["blockErrors"]["label"]["messages"][0]
    assert "is used twice" in errors[2]["blockErrors"]["name"]["messages"][0]


# --- the rules builder's language ---------------------------------------------------------
SPEC = [
    {"type": "number", "name": "floors", "label": "Этажность", "required": True},
    {"type": "yes_no", "name": "heritage", "label": "Объект культурного наследия?",
     "required": True},
    {"type": "multi_choice", "name": "works", "label": "Виды работ",
     "choices": ["Снос", "Надстройка"], "required": False},
    {"type": "date", "name": "start", "label": "Начало работ", "required": True},
    {"type": "address", "name": "site", "label": "Адрес участка", "required": True},
]
REGISTERS = [("large_families", "Многодетные семьи",
              [("children", "number"), ("certificate_until", "date"), ("active", "boolean")])]
CATALOGUE = {s.var: s for s in builder.subjects(SPEC, REGISTERS)}
DEMO_RULE = {"name": "Многодетная семья — в льготную очередь",
             "when": {"and": [{"var": "registers.large_families.found"},
                              {">=": [{"var": "registers.large_families.children"}, 3]}]},
             "then": "route", "group": "Льготная очередь"}


def test_what_rules_can_read_is_named_in_words():
    with translation.override("ru"):
        found = {s.var: (s.label, s.kind) for s in builder.subjects(SPEC, REGISTERS)}
    assert found["floors"] == ("Этажность", "number")
    assert found["heritage"][1] == "yes_no" and found["works"][1] == "multi_choice"
    assert "site" not in found  # an address is not a value to compare
    assert found["registers.large_families.found"] == (
        "Многодетные семьи: заявитель есть в реестре?", "found")
    assert found["registers.large_families.active"][1] == "boolean"
    assert found["channel"][1] == "channel"
    assert [value for value, _label in builder.CHANNELS] == list(Channel.values)


@pytest.mark.parametrize("rule", [
    *RULES, DEMO_RULE,
    {"name": "Снос памятника", "when": {"or": [{"in": ["Снос", {"var": "works"}]},
                                               {"!=": [{"var": "heritage"}, "no"]}]},
     "then": "refuse"},
    {"name": "Поздний старт", "when": {"<": [{"var": "start"}, "2026-03-31"]},
     "then": "start_review"},
    {"name": "Не в реестре", "when": {"!": [{"var": "registers.large_families.found"}]},
     "then": "start_review"},
    {"name": "Без работ", "when": {"!": [{"var": "works"}]}, "then": "start_review"},
    {"name": "С работами", "when": {"!!": [{"var": "works"}]}, "then": "start_review"},
    {"name": "В офисе", "when": {"==": [{"var": "channel"}, "office"]}, "then": "approve"},
    {"name": "Дробь", "when": {">": [{"var": "floors"}, 2.5]}, "then": "approve"},
])
def test_a_rule_the_builder_can_say_reads_and_writes_back_the_same(rule):
    built = builder.to_builder(rule, CATALOGUE)
    assert built is not None
    assert builder.to_rule(built, CATALOGUE) == rule


def test_the_demo_rule_in_the_builder_s_terms():
    assert builder.to_builder(DEMO_RULE, CATALOGUE) == {
        "name": DEMO_RULE["name"], "match": "all", "then": "route", "group": "Льготная очередь",
        "conditions": [
            {"subject": "registers.large_families.found", "operator": "true", "answer": ""},
            {"subject": "registers.large_families.children", "operator": "gte", "answer": "3"}]}


@pytest.mark.parametrize("rule", [
    {"name": "Вложенное", "then": "approve", "when": {"and": [
        {"or": [{"var": "heritage"}, {"var": "works"}]}, {">": [{"var": "floors"}, 1]}]}},
    {"name": "Арифметика", "then": "approve",
     "when": {">": [{"+": [{"var": "floors"}, 1]}, 3]}},
    {"name": "Наоборот", "then": "approve", "when": {"<": [3, {"var": "floors"}]}},
    {"name": "Строкой", "then": "approve", "when": {"<=": [{"var": "floors"}, "3"]}},
    {"name": "По-русски", "then": "approve", "when": {"==": [{"var": "heritage"}, "да"]}},
    {"name": "С пометкой", "then": "approve", "when": {"var": "heritage"}, "note": "x"},
    {"name": "Если", "then": "approve", "when": {"if": [{"var": "heritage"}, True, False]}},
])
def test_a_rule_the_builder_cannot_say_is_kept_as_json(rule):
    assert builder.to_builder(rule, CATALOGUE) is None
    data = stream_data([rule], CATALOGUE)
    assert data[0]["type"] == "json" and json.loads(data[0]["value"]["rule"]) == rule


@pytest.mark.parametrize(("subject", "operator", "answer", "stored"), [
    ("floors", "lte", "2,5", 2.5), ("floors", "gt", " 1 000 ", 1000),
    ("start", "gte", "31.03.2026", "2026-03-31"), ("start", "lt", "2026-03-31", "2026-03-31"),
    ("heritage", "eq", "Да", "yes"), ("heritage", "ne", "нет", "no"),
    ("works", "includes", "Снос", "Снос"), ("channel", "eq", "post", "post"),
])
def test_typed_values_are_stored_as_the_rules_read_them(subject, operator, answer, stored):
    logic = builder.condition_logic({"subject": subject, "operator": operator,
                                     "answer": answer}, CATALOGUE[subject])
    assert stored in (logic.get("in") or next(iter(logic.values())))


@pytest.mark.parametrize(("condition", "part", "message"), [
    ({"subject": "floors", "operator": "gt", "answer": "много"}, "answer",
     "Write a number, like 3 or 2.5."),
    ({"subject": "start", "operator": "lt", "answer": "вчера"}, "answer",
     "Write a date, like 31.03.2026."),
    ({"subject": "heritage", "operator": "eq", "answer": "может быть"}, "answer",
     "Choose yes or no."),
    ({"subject": "heritage", "operator": "gt", "answer": "yes"}, "operator",
     "“more than / after” does not fit “Объект культурного наследия?”; choose one of: is, "
     "is not, is answered, is not answered."),
    ({"subject": "registers.large_families.found", "operator": "eq", "answer": "1"},
     "operator", "does not fit “Многодетные семьи: заявитель есть в реестре?”"),
])
def test_a_condition_the_builder_cannot_write_says_why_on_its_part(condition, part, message):
    with translation.override("en"), pytest.raises(builder.CannotWrite) as caught:
        builder.to_rule({"name": "x", "conditions": [{"subject": "floors", "operator": "answered"},
                                                     condition], "then": "approve"}, CATALOGUE)
    [(index, where, text)] = caught.value.args[0]
    with translation.override("en"):
        assert (index, where) == (1, part) and message in str(text)


CONTEXT = Context(subjects=tuple(builder.subjects(SPEC, REGISTERS)),
                  steps=(("approve", "Одобрить (approve)"), ("refuse", "Отказать (refuse)"),
                         ("route", "Направить группе")),
                  groups=(("Case workers", "Case workers"),))


def test_the_rules_field_shows_json_as_blocks_and_cleans_blocks_into_json():
    field = RulesField(context=CONTEXT, required=False)
    rules = [*RULES, DEMO_RULE, {"name": "Арифметика", "then": "approve",
                                 "when": {">": [{"+": [{"var": "floors"}, 1]}, 3]}}]
    shown = field.prepare_value(rules)
    assert [child.block_type for child in shown] == ["rule"] * 4 + ["json"]
    data = post_data(field.block, "rules", stream_data(rules, field.catalogue))
    posted = field.widget.value_from_datadict(data, {}, "rules")
    assert field.clean(posted) == rules
    assert not field.has_changed(rules, posted)


def test_the_rules_field_refuses_a_half_made_rule_on_the_part_to_fix():
    field = RulesField(context=CONTEXT, required=False)
    raw = [{"type": "rule", "value": {
        "name": "Низкий дом", "match": "all", "then": "approve", "group": "",
        "conditions": [{"subject": "floors", "operator": "lte", "answer": "три"}]}},
        {"type": "json", "value": {"rule": '{"name": "broken", '}}]
    posted = field.widget.value_from_datadict(post_data(field.block, "rules", raw), {},
                                              "rules")
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        field.clean(posted)
    with translation.override("en"):
        errors = caught.value.as_json_data()["blockErrors"]
    condition = errors[0]["blockErrors"]["conditions"]["blockErrors"][0]
    assert condition["blockErrors"]["answer"]["messages"] == ["Write a number, like 3 or 2.5."]
    assert "This is not valid JSON" in errors[1]["blockErrors"]["rule"]["messages"][0]


def test_rule_problems_name_the_part_of_the_rule():
    definition = {"initial": "received", "states": [], "transitions": [
        {"code": "approve", "from": ["received"]}]}
    problems = rules_logic.problems(
        [{"name": "a", "when": {"var": "nowhere"}, "then": "approve"},
         {"name": "b", "when": {"var": "floors"}, "then": "archive"},
         {"name": "c", "when": {"var": "floors"}, "then": "route"}, {"when": {}}],
        SPEC, definition)
    assert [(position, part) for position, part, _m in problems] == [
        (1, "when"), (2, "then"), (3, "group"), (4, "name")]


# --- through the service page editor ------------------------------------------------------
TITLE = "Разрешение на строительство дома"
FORM_FIELD, RULES_FIELD = "online_services-0-form", "online_services-0-rules"


@pytest.fixture
def editor(client, tenant_a):
    """The tenant's administrator, reading the admin in English, logged in, and the address
    of a new service page in the Russian catalogue."""
    _admin, index = admin_in_english(client, tenant_a)
    return {"client": client, "tenant": tenant_a,
            "add": f"/admin/pages/add/cms/servicepage/{index.pk}/"}


def add_page(editor, form, rules=()):
    """Publish a new service page with the online form `form` (raw builder data)."""
    response = editor["client"].post(
        editor["add"], {**service_page_data(TITLE, form=form, rules=rules),
                        "action-publish": "1"}, **NORTH)
    assert response.status_code == 302, problems_in(response)
    with tenant_context(editor["tenant"]):
        page = ServicePage.objects.get(title=TITLE)
    connection.set_schema_to_public()
    return page


def edit_page(editor, page, form, rules=(), workflow=""):
    """Post the page editor for `page` (published), its rows kept, with `form` and `rules`."""
    with tenant_context(editor["tenant"]):
        latest = ServicePage.objects.get(pk=page.pk).get_latest_revision_as_object()
        online_id = str(latest.online_services.all()[0].pk or "")
        channel_id = str(latest.channels.all()[0].pk or "")
    connection.set_schema_to_public()
    return editor["client"].post(
        f"/admin/pages/{page.pk}/edit/",
        {**service_page_data(TITLE, form=form, rules=rules, online_id=online_id,
                             channel_id=channel_id, slug=page.slug, workflow=workflow),
         "action-publish": "1"}, **NORTH)


def screen(editor, page):
    return editor["client"].get(f"/admin/pages/{page.pk}/edit/", **NORTH).content.decode()


def test_an_editor_builds_a_form_with_a_condition_chosen_from_the_questions(editor):
    added = editor["client"].get(editor["add"], **NORTH).content.decode()
    assert "services/admin/builders.js" in added
    kids = str(uuid.uuid4())
    form = [question("yes_no", "Есть дети", id=kids),
            question("number", "Сколько детей", condition=(kids, "eq", "yes")),
            question("text", "Школа", condition=(kids, "eq", "yes"))]
    page = add_page(editor, form)
    with tenant_context(editor["tenant"]):
        service = OnlineService.objects.get(page=page)
        spec = service.current_version().spec
        assert spec[1]["show_if"] == {"field": "est_deti", "value": "yes"}
    # It opens on the question chosen (its block), from a list; a condition that cannot work
    # is explained on the question and part where it was made; nothing is published.
    html = screen(editor, page)
    assert "dgbox.widgets.ChooserSelect" in block_definition(html, FORM_FIELD)
    assert block_state(html, FORM_FIELD)[0][1]["value"]["show_if_field"] == [kids]
    form[2]["value"]["show_if_value"] = "наверное"
    response = edit_page(editor, page, form)
    assert response.status_code == 200
    html = response.content.decode()
    assert "could not be" in html
    error = block_state(html, FORM_FIELD)[1]["blockErrors"]["2"]["blockErrors"]["show_if_value"]
    assert error["messages"] == [
        "Question 3 (Школа): “наверное” is not an answer to “Есть дети”."]
    with tenant_context(editor["tenant"]):
        assert OnlineService.objects.get(pk=service.pk).versions.count() == 1


def test_an_editor_builds_rules_from_lists_and_they_save_as_json_logic(editor):
    form = stream_data_from_spec([dict(SPEC[0], help_text=""), dict(SPEC[1], help_text="")])
    page = add_page(editor, form)
    definition = block_definition(screen(editor, page), RULES_FIELD)
    for offered in ("Этажность", "How the application came", "Approve (approve)",
                    "Route to a staff group", "data-kind"):
        assert offered in definition, offered
    with translation.override("en"):
        assert staff.group_label(STAFF_GROUP) in definition
    rules = [
        {"type": "rule", "value": {"name": "Небольшой дом", "match": "all", "then": "approve",
                                   "group": "", "conditions": [
                                       {"subject": "floors", "operator": "lte", "answer": "3"},
                                       {"subject": "heritage", "operator": "eq",
                                        "answer": "no"}]}},
        {"type": "rule", "value": {"name": "Памятник", "match": "any", "then": "route",
                                   "group": STAFF_GROUP, "conditions": [
                                       {"subject": "heritage", "operator": "eq",
                                        "answer": "yes"}]}},
        {"type": "json", "value": {"rule": json.dumps(
            {"name": "Выше пяти", "then": "refuse",
             "when": {">": [{"+": [{"var": "floors"}, 1]}, 6]}}, ensure_ascii=False)}},
    ]
    response = edit_page(editor, page, form, rules)
    assert response.status_code == 302, problems_in(response)
    expected = [
        {"name": "Небольшой дом", "then": "approve", "when": {"and": [
            {"<=": [{"var": "floors"}, 3]}, {"==": [{"var": "heritage"}, "no"]}]}},
        {"name": "Памятник", "then": "route", "group": STAFF_GROUP,
         "when": {"==": [{"var": "heritage"}, "yes"]}},
        {"name": "Выше пяти", "then": "refuse",
         "when": {">": [{"+": [{"var": "floors"}, 1]}, 6]}},
    ]
    with tenant_context(editor["tenant"]):
        assert OnlineService.objects.get(page=page).rules == expected
    # The saved JSON is shown read-only; the builder opens on the same rules.
    html = screen(editor, page)
    assert "data-rules-json" in html and "&quot;Небольшой дом&quot;" in html
    assert [item["type"] for item in block_state(html, RULES_FIELD)[0]] == \
        ["rule", "rule", "json"]

    # A step the workflow does not allow for a new case is explained on the rule's "Then".
    rules[0]["value"]["then"] = "info_received"
    response = edit_page(editor, page, form, rules)
    assert response.status_code == 200
    errors = block_state(response.content.decode(), RULES_FIELD)[1]["blockErrors"]
    assert "“info_received” is not a step the workflow allows for a new case" in \
        errors["0"]["blockErrors"]["then"]["messages"][0]
    # A value that is not a number is explained on the condition's value.
    rules[0]["value"]["then"] = "approve"
    rules[0]["value"]["conditions"][0]["answer"] = "три"
    response = edit_page(editor, page, form, rules)
    assert response.status_code == 200
    errors = block_state(response.content.decode(), RULES_FIELD)[1]["blockErrors"]
    condition = errors["0"]["blockErrors"]["conditions"]["blockErrors"]["0"]
    assert condition["blockErrors"]["answer"]["messages"] == ["Write a number, like 3 or 2.5."]
    with tenant_context(editor["tenant"]):
        assert OnlineService.objects.get(page=page).rules == expected


def test_removing_a_question_a_rule_reads_is_explained_on_that_rule(editor):
    form = stream_data_from_spec([dict(SPEC[0], help_text=""), dict(SPEC[1], help_text="")])
    catalogue = {s.var: s for s in builder.subjects(SPEC[:2])}
    with tenant_context(editor["tenant"]):
        workflow = Workflow.default().pk
    page = add_page(editor, form)  # the rules' lists offer the questions once saved
    response = edit_page(editor, page, form, stream_data(RULES[:2], catalogue), workflow)
    assert response.status_code == 302, problems_in(response)
    with tenant_context(editor["tenant"]):
        assert OnlineService.objects.get(page=page).rules == RULES[:2]
    response = edit_page(editor, page, form[1:], stream_data(RULES[:2], catalogue), workflow)
    assert response.status_code == 200
    errors = block_state(response.content.decode(), RULES_FIELD)[1]["blockErrors"]
    assert list(errors) == ["1"]
    assert "“floors” is not a question of this form" in errors["1"]["messages"][0]
