"""The form builder: every field type validates what it should, conditions, limits, and specs
that cannot work are refused when saved."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from services.forms import national_id
from services.forms import spec as formspec

from .factories import FORM_SPEC, GOOD_ANSWERS, PDF, PNG, good_files


def make(data=None, files=None, spec=FORM_SPEC):
    return formspec.ApplicationForm(spec, data if data is not None else dict(GOOD_ANSWERS),
                                    files if files is not None else good_files())


def errors_of(**changes):
    data = dict(GOOD_ANSWERS)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    form = make(data)
    with translation.override("en"):
        assert not form.is_valid()
        return {name: " ".join(messages) for name, messages in form.errors.items()}


def test_valid_answers_clean_to_json_ready_values():
    form = make()
    assert form.is_valid(), form.errors
    data = form.cleaned_data
    assert data["snils"] == "11223344595"
    assert data["home"] == {"line1": "ул. Ленина, 1", "line2": "", "town": "Северск",
                            "postcode": "101000"}
    assert formspec.to_json(data["born"]) == "2019-05-01"
    assert formspec.to_json(data["children"]) == "2"
    assert data["certificate"].sniffed_type == "application/pdf"
    assert "benefit_no" not in data  # condition not met: not asked, not stored


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"applicant_name": ""}, "applicant_name", "Enter your full name"),
    ({"applicant_email": "", "applicant_phone": ""}, "applicant_email", "email address or a"),
    ({"applicant_email": "not-an-email"}, "applicant_email", "valid email"),
    ({"applicant_phone": "12ab"}, "applicant_phone", "phone number"),
    ({"applicant_phone": "8 912 345 67 89"}, "applicant_phone", "country code"),
    ({"purpose": "ab"}, "purpose", "at least 3"),
    ({"purpose": "x" * 21}, "purpose", "at most 20"),
    ({"details": "x" * 51}, "details", "at most 50"),
    ({"children": "13"}, "children", "less than or equal to 12"),
    ({"children": "-1"}, "children", "greater than or equal to 0"),
    ({"children": "two"}, "children", "number"),
    ({"children": "1.5"}, "children", "decimal places"),
    ({"born": (date.today() + timedelta(days=2)).isoformat()}, "born", "past"),  # future anywhere
    ({"born": "1800-01-01"}, "born", "1900"),
    ({"born": "31.02.2020"}, "born", "valid date"),
    ({"work_email": "x@"}, "work_email", "valid email"),
    ({"work_phone": "call me"}, "work_phone", "phone number"),
    ({"school": "No. 3"}, "school", "valid choice"),
    ({"clubs": ["Chess", "Music", "Sport"]}, "clubs", "at most 2"),
    ({"clubs": ["Darts"]}, "clubs", "valid choice"),
    ({"benefits": "maybe"}, "benefits", "valid choice"),
    ({"benefits": "yes"}, "benefit_no", "Fill in “Benefit number”"),
    ({"home_2": ""}, "home", "Town or city"),
    ({"home_3": "12"}, "home", "6-digit postcode"),
    ({"home_0": "", "home_2": "", "home_3": ""}, "home", "Enter the address in “Home address”"),
    ({"snils": "112-233-445 96"}, "snils", "not valid"),
    ({"snils": "123"}, "snils", "11 digits"),
])
def test_each_bad_answer_gets_its_own_message(changes, field, message):
    errors = errors_of(**changes)
    assert field in errors, errors
    assert message in errors[field], errors[field]


def test_condition_met_makes_the_question_required_and_kept():
    data = dict(GOOD_ANSWERS, benefits="yes", benefit_no="B-77")
    form = make(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["benefit_no"] == "B-77"


def test_answer_to_a_question_whose_condition_is_not_met_is_dropped():
    form = make(dict(GOOD_ANSWERS, benefits="no", benefit_no="sneaked in"))
    assert form.is_valid()
    assert "benefit_no" not in form.cleaned_data


@pytest.mark.parametrize(("content", "name", "message"), [
    (PNG, "certificate.pdf", "must be a PDF"),  # name says PDF, bytes say PNG
    (b"MZ\x90\x00" + b"\x00" * 100, "certificate.pdf", "must be a PDF"),  # a Windows program
    (b"", "certificate.pdf", "empty"),
    (PDF + b"\x00" * (1024 * 1024), "certificate.pdf", "smaller than 1 MB"),
])
def test_uploads_are_judged_by_content_and_size(content, name, message):
    form = make(files=good_files(content, name))
    with translation.override("en"):
        assert not form.is_valid()
        assert message in " ".join(form.errors["certificate"])


def test_a_required_file_can_be_kept_from_an_earlier_try():
    form = formspec.ApplicationForm(FORM_SPEC, dict(GOOD_ANSWERS), {},
                                    kept_files={"certificate": {"file": "x", "name": "a.pdf"}})
    assert form.is_valid(), form.errors
    assert form.cleaned_data.get("certificate") in (None, False)


def test_error_summary_links_to_the_first_input_of_each_question():
    form = make({"applicant_name": ""}, files={})
    assert not form.is_valid()
    anchors = [anchor for anchor, _message in form.error_list()]
    assert "id_applicant_name" in anchors
    assert "id_school_0" in anchors  # radios: the first option
    assert "id_home_0" in anchors  # address: the first line
    assert "id_certificate" in anchors


@pytest.mark.parametrize(("kind", "value", "ok"), [
    ("snils", "112-233-445 95", True), ("snils", "11223344595", True),
    ("snils", "112-233-445 94", False), ("inn_person", "500100732259", True),
    ("inn_person", "500100732258", False), ("inn_company", "7707083893", True),
    ("inn_company", "7707083894", False), ("inn_company", "77070838", False),
])
def test_national_identifiers_check_digits(kind, value, ok):
    if ok:
        assert national_id.validate(kind, value).isdigit()
    else:
        with pytest.raises(ValidationError):
            national_id.validate(kind, value)


def spec_errors(spec):
    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            formspec.validate_spec(spec)
        return " | ".join(caught.value.messages)  # lazy messages: read in English


def test_the_full_example_spec_is_valid():
    formspec.validate_spec(FORM_SPEC)


@pytest.mark.parametrize(("bad", "message"), [
    ([], "at least one question"),
    ([{"type": "text", "name": "a", "label": "A"}, {"type": "text", "name": "a", "label": "B"}],
     "used twice"),
    ([{"type": "text", "name": "applicant_email", "label": "A"}], "used twice"),
    ([{"type": "text", "name": "1st", "label": "A"}], "must start with a letter"),
    ([{"type": "text", "name": "a", "label": ""}], "give the question a label"),
    ([{"type": "rocket", "name": "a", "label": "A"}], "unknown type"),
    ([{"type": "text", "name": "a", "label": "A", "min_length": 9, "max_length": 3}],
     "minimum length is above"),
    ([{"type": "number", "name": "a", "label": "A", "min_value": "9", "max_value": "3"}],
     "minimum is above"),
    ([{"type": "choice", "name": "a", "label": "A", "choices": ["only"]}], "at least two"),
    ([{"type": "choice", "name": "a", "label": "A", "choices": ["x", "x"]}], "listed twice"),
    ([{"type": "multi_choice", "name": "a", "label": "A", "choices": ["x", "y"],
       "max_selections": 3}], "at most 2"),
    ([{"type": "file", "name": "a", "label": "A", "file_kinds": ["exe"], "max_size_mb": 5}],
     "file types"),
    ([{"type": "file", "name": "a", "label": "A", "file_kinds": ["pdf"], "max_size_mb": 500}],
     "between 1 and 20"),
    ([{"type": "national_id", "name": "a", "label": "A", "id_kind": "passport"}],
     "which identifier"),
    ([{"type": "text", "name": "b", "label": "B", "show_if": {"field": "a", "value": "yes"}},
      {"type": "yes_no", "name": "a", "label": "A"}], "question above it"),
    ([{"type": "text", "name": "a", "label": "A"},
      {"type": "text", "name": "b", "label": "B", "show_if": {"field": "a", "value": "x"}}],
     "choice or yes/no"),
    ([{"type": "yes_no", "name": "a", "label": "A"},
      {"type": "text", "name": "b", "label": "B", "show_if": {"field": "a", "value": "maybe"}}],
     "not an answer"),
])
def test_specs_that_cannot_work_are_refused(bad, message):
    assert message in spec_errors(bad)


def test_every_problem_is_listed_at_once():
    text = spec_errors([{"type": "text", "name": "1", "label": ""},
                        {"type": "choice", "name": "c", "label": "C", "choices": []}])
    assert "must start with a letter" in text and "at least two" in text


def test_every_field_type_is_covered_by_the_example():
    assert {f["type"] for f in FORM_SPEC} == set(formspec.FIELD_TYPES)


def test_display_reads_answers_back_in_plain_words():
    by_name = {f["name"]: f for f in FORM_SPEC}
    with translation.override("en"):
        assert formspec.display(by_name["benefits"], "yes") == "Yes"
    assert formspec.display(by_name["born"], "2019-05-01") == "01.05.2019"
    assert formspec.display(by_name["home"], {"line1": "A", "line2": "", "town": "B",
                                              "postcode": "101000"}) == "A, B, 101000"
    assert formspec.display(by_name["clubs"], ["Chess", "Music"]) == "Chess, Music"


# --- conditions on numbers, dates and whether a question was answered ---------------------
HOUSE = [
    {"type": "number", "name": "floors", "label": "Этажность", "required": True},
    {"type": "text", "name": "lift", "label": "Модель лифта", "required": True,
     "show_if": {"field": "floors", "op": "gt", "value": "5"}},
    {"type": "date", "name": "start", "label": "Начало работ", "required": True},
    {"type": "long_text", "name": "winter", "label": "Как защитите котлован зимой",
     "required": True, "show_if": {"field": "start", "op": "gte", "value": "01.11.2026"}},
    {"type": "phone", "name": "foreman", "label": "Телефон прораба", "required": False},
    {"type": "email", "name": "foreman_email", "label": "Почта прораба", "required": True,
     "show_if": {"field": "foreman", "op": "not_answered"}},
]
HOUSE_ANSWERS = {"applicant_name": "Пётр Сидоров", "applicant_email": "petr@example.org",
                 "floors": "3", "start": "2026-06-01", "foreman": "+7 900 123 45 67"}


@pytest.mark.parametrize(("changes", "asked"), [
    ({}, set()),
    ({"floors": "12", "lift": "ПП-1000"}, {"lift"}),
    ({"floors": "5", "lift": "ignored"}, set()),  # "more than 5": 5 is not
    ({"start": "2026-11-01", "winter": "Утеплим"}, {"winter"}),  # on or after 01.11.2026
    ({"foreman": "", "foreman_email": "boss@example.org"}, {"foreman_email"}),
])
def test_conditions_compare_numbers_and_dates_and_ask_whether_answered(changes, asked):
    formspec.validate_spec(HOUSE)
    form = formspec.ApplicationForm(HOUSE, dict(HOUSE_ANSWERS, **changes))
    assert form.is_valid(), form.errors
    conditional = {"lift", "winter", "foreman_email"}
    assert {name for name in conditional if name in form.cleaned_data} == asked


def test_a_condition_that_is_met_makes_its_question_required():
    form = formspec.ApplicationForm(HOUSE, dict(HOUSE_ANSWERS, floors="9"))
    assert not form.is_valid() and set(form.errors) == {"lift"}


def test_the_applicant_reads_each_condition_in_words():
    with translation.override("en"):
        form = formspec.ApplicationForm(HOUSE)
        hints = {q["field"].name: q["condition"]["hint"] for q in form.questions()
                 if q.get("condition")}
        assert hints == {
            "lift": "Answer only if your answer to “Этажность” is more than 5.",
            "winter": "Answer only if your answer to “Начало работ” is on or after "
                      "01.11.2026.",
            "foreman_email": "Answer only if you did not answer “Телефон прораба”."}
        form = make()
        assert [q["condition"]["hint"] for q in form.questions() if q.get("condition")] == [
            "Answer only if you answered “Yes” to “Benefits?”."]


def _with_condition(source, condition):
    return [source, {"type": "text", "name": "b", "label": "Пояснение", "show_if": condition}]


@pytest.mark.parametrize(("source", "condition", "part", "message"), [
    ({"type": "yes_no", "name": "a", "label": "Есть дети"},
     {"field": "a", "op": "gt", "value": "1"}, "op",
     "“more than / after” compares numbers or dates; “Есть дети” is not a number"),
    ({"type": "text", "name": "a", "label": "Кличка собаки"},
     {"field": "a", "value": "Шарик"}, "op",
     "for “Кличка собаки” choose “is answered” or “is not answered”"),
    ({"type": "number", "name": "a", "label": "Этажность"},
     {"field": "a", "op": "lt", "value": "много"}, "value",
     "write the number to compare with, like 3 or 2.5"),
    ({"type": "date", "name": "a", "label": "Дата"},
     {"field": "a", "op": "lt", "value": "вчера"}, "value",
     "write the date to compare with, like 31.03.2026"),
    ({"type": "file", "name": "a", "label": "Скан", "file_kinds": ["pdf"], "max_size_mb": 5},
     {"field": "a", "op": "answered"}, "field", "it cannot depend on a file upload"),
    ({"type": "choice", "name": "a", "label": "Группа", "choices": ["Полного дня", "Ясли"]},
     {"field": "a", "value": "Вечерняя"}, "value", "“Вечерняя” is not an answer to “Группа”"),
    ({"type": "text", "name": "a", "label": "Имя"},
     {"field": "a", "op": "someday"}, "op", "unknown condition “someday”"),
    ({"type": "text", "name": "a", "label": "Имя"},
     {"field": "removed", "op": "answered"}, "field",
     "the question it depends on is not in the form"),
])
def test_a_condition_that_does_not_fit_its_question_says_why(source, condition, part, message):
    with translation.override("en"):
        problems = formspec.spec_problems(_with_condition(source, condition))
    assert [(position, where) for position, where, _m in problems] == [(2, f"show_if.{part}")]
    assert message in problems[0][2]
