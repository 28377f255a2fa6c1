"""Registers rules read (once-only): CSV import all or nothing with every bad line reported,
lookups by a question's answer, decisions recording what the register said and when it was
imported, validation of lookups and rules, tenant isolation, the admin import screen."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context

from services.models import AutomatedDecision, Register, RegisterRecord
from services.registers import service as registers
from services.rules import logic as rules

from .factories import NORTH, OnlineServiceFactory, RegisterFactory, SubmittedCaseFactory

pytestmark = pytest.mark.django_db

SPEC = [
    {"type": "national_id", "name": "snils", "label": "SNILS", "required": True,
     "id_kind": "snils"},
    {"type": "national_id", "name": "inn", "label": "INN", "required": False,
     "id_kind": "inn_person"},
    {"type": "text", "name": "plot", "label": "Plot", "required": False},
    {"type": "number", "name": "floors", "label": "Floors", "required": False},
]
ANN, BOB, CAT, DAN = "11223344595", "12345678964", "23456789099", "34567890123"
FIELDS = [("children", "number"), ("until", "date"), ("disabled", "boolean"),
          ("note", "text")]
APPROVE = {"name": "Large family", "then": "approve",
           "when": {"and": [{"var": "registers.large_families.found"},
                            {">=": [{"var": "registers.large_families.children"}, 3]}]}}
ROUTE = {"name": "Not in the register", "then": "route", "group": "Benefits",
         "when": {"!": [{"var": "registers.large_families.found"}]}}


def make_register(code="large_families", kind="snils", fields=FIELDS, records=None):
    return RegisterFactory(code=code, key_kind=kind, columns=fields, records=records)


def with_lookups(service, *pairs, rules_=()):
    service.register_lookups = [{"type": "lookup", "value": {"register": r, "question": q}}
                                for r, q in pairs]
    service.rules = list(rules_)
    return service


def upload(text, *, bom=False, name="register.csv", encoding="utf-8"):
    data = text.encode(encoding)
    return SimpleUploadedFile(name, (b"\xef\xbb\xbf" if bom else b"") + data,
                              content_type="text/csv")


def records(register):
    return dict(RegisterRecord.objects.filter(register=register).values_list("key", "data"))


def refused(register, text, **kwargs):
    with translation.override("en"):
        with pytest.raises(registers.ImportRefused) as caught:
            registers.import_csv(register, upload(text), **kwargs)
        # Messages are lazy: read them in English too.
        return {line: str(reason) for line, reason in caught.value.errors}, caught.value


@pytest.fixture
def north(tenant_a):
    with tenant_context(tenant_a):
        yield OnlineServiceFactory(spec=SPEC)


# --- Import -----------------------------------------------------------------------------------


def test_import_replaces_every_record_with_typed_values(north):
    register = make_register(records=[(DAN, {"children": 9})])
    user = get_user_model().objects.create_user("clerk", "c@north.example", "x")
    result = registers.import_csv(register, upload(
        "key,children,until,disabled,note\n"
        f"{ANN},3,2028-06-30,yes,First\n"
        f"{BOB},4.5,,no,\"Second, with a comma\"\n"
        f"{CAT},,,,\n"), user=user)
    assert (result.count, result.replaced) == (3, 1)
    assert records(register) == {
        ANN: {"children": 3, "until": "2028-06-30", "disabled": True, "note": "First"},
        BOB: {"children": 4.5, "disabled": False, "note": "Second, with a comma"},
        CAT: {},
    }
    register.refresh_from_db()
    assert register.record_count == 3 and register.imported_at and register.imported_by == user


def test_import_reads_bom_semicolons_russian_formats_and_any_column_order(north):
    register = make_register(records=[])
    text = ("Note;DISABLED;key;children;until\r\n"
            "Иванова;да;112-233-445 95;\"3,5\";31.03.2026\r\n"
            "\r\n"  # blank lines are skipped
            "Петров;нет; 123 456 789 64 ;1 000;2026-01-02\r\n")
    registers.import_csv(register, upload(text, bom=True))
    assert records(register) == {
        ANN: {"note": "Иванова", "disabled": True, "children": 3.5, "until": "2026-03-31"},
        BOB: {"note": "Петров", "disabled": False, "children": 1000, "until": "2026-01-02"},
    }


def test_text_keys_ignore_case_and_extra_spaces(north):
    register = make_register("plots", kind="text", fields=[("area", "number")])
    registers.import_csv(register, upload("key,area\n  77:01:0001  AB ,600\n"))
    assert records(register) == {"77:01:0001 ab": {"area": 600}}
    errors, _ = refused(register, "key,area\n77:01:0001 AB,1\n77:01:0001 ab,2\n")
    assert "already on line 2" in errors[3]


def test_every_bad_line_is_reported_and_nothing_changes(north):
    register = make_register(records=[(DAN, {"children": 7})])
    before = register.imported_at
    errors, exc = refused(register, (
        "key,children,until,disabled,note\n"          # 1
        f"{ANN},3,,,\n"                               # 2 good
        "112-233-445 96,3,,,\n"                       # 3 bad check digits
        f"{BOB},three,,,\n"                           # 4 not a number
        ",2,,,\n"                                     # 5 empty key
        f"{ANN},4,,,\n"                               # 6 duplicate of line 2
        f"{CAT},1,,\n"                                # 7 a value missing
        f"{CAT},1,2026-02-30,,\n"                     # 8 no such date
        f"{CAT},1,,maybe,\n"                          # 9 not yes or no
        f"{CAT},1,,,{'x' * 1001}\n"                   # 10 too long
        "12345,1,,,\n"                                # 11 too few digits
        f"{DAN},NaN,,,\n"))                           # 12 not a number either
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12] and exc.bad_lines == 10
    assert "check the digits" in errors[3]
    assert "“three” is not a number" in errors[4] and errors[4].startswith("children:")
    assert "key is empty" in errors[5]
    assert f"the key {ANN} is already on line 2" in errors[6]
    assert "4 values but the first line names 5 columns" in errors[7]
    assert "is not a date" in errors[8]
    assert "not yes or no" in errors[9]
    assert "at most 1000 characters" in errors[10]
    assert "Enter 11 digits" in errors[11]
    assert "not a number" in errors[12]
    register.refresh_from_db()
    assert records(register) == {DAN: {"children": 7}}
    assert register.record_count == 1 and register.imported_at == before


@pytest.mark.parametrize(("header", "message"), [
    ("key,children,until,disabled,note,colour", "unknown column “colour”"),
    ("children,until,disabled,note", "missing column(s): key"),
    ("key,children,disabled,note", "missing column(s): until"),
    ("key,children,children,until,disabled,note", "the column “children” appears twice"),
])
def test_a_wrong_first_line_is_refused_with_the_columns_expected(north, header, message):
    register = make_register(records=[(DAN, {})])
    errors, _ = refused(register, f"{header}\n{ANN},1,,,\n")
    assert list(errors) == [1] and message in errors[1]
    assert "key, children, until, disabled, note" in errors[1]
    assert records(register) == {DAN: {}}


def test_files_that_are_not_utf8_or_empty_are_refused(north):
    register = make_register(records=[(DAN, {})])
    with translation.override("en"):
        with pytest.raises(registers.ImportRefused) as caught:
            registers.import_csv(register, upload(
                f"key,children,until,disabled,note\n{ANN},1,,,\nMüller", encoding="latin-1"))
        assert caught.value.errors[0][0] == 3 and "UTF-8" in str(caught.value.errors[0][1])
    errors, _ = refused(register, " \n")
    assert "empty" in errors[None]
    assert records(register) == {DAN: {}}


def test_size_and_row_limits_are_refused_with_a_clear_message(north):
    register = make_register(fields=[("children", "number")], records=[(DAN, {})])
    rows = "".join(f"{key},1\n" for key in (ANN, BOB, CAT))
    errors, _ = refused(register, "key,children\n" + rows, max_rows=2)
    assert "more than 2 records" in errors[None]
    errors, _ = refused(register, "key,children\n" + rows, max_bytes=40)
    assert "at most 40" in errors[None]
    assert records(register) == {DAN: {}}
    registers.import_csv(register, upload("key,children\n" + rows), max_rows=3)
    assert len(records(register)) == 3


# --- Lookups and rules ----------------------------------------------------------------------


def test_an_applicant_in_the_register_is_approved_and_the_decision_records_what_was_read(
        north):
    register = make_register(records=[(ANN, {"children": 4, "note": "ok"}), (BOB, {})])
    with_lookups(north, ("large_families", "snils"), rules_=[APPROVE]).full_clean()
    north.save()
    case = SubmittedCaseFactory(service=north, answers={"snils": ANN})
    case.refresh_from_db()
    assert case.status == "approved"
    decision = AutomatedDecision.objects.get(case=case)
    assert decision.inputs == {
        "registers.large_families.found": True,
        "registers.large_families.children": 4,
        "registers.large_families": {
            "register": register.name, "key": ANN, "records": 2,
            "imported_at": register.imported_at.isoformat()},
    }
    # The register changes later: the decision still shows what the rule saw.
    registers.import_csv(register, upload("key,children,until,disabled,note\n"))
    decision.refresh_from_db()
    assert decision.inputs["registers.large_families.children"] == 4


@pytest.mark.parametrize("answer", [ANN, "112-233-445 95", "112 233 445 95", " 11223344595 "])
def test_the_answer_is_normalised_like_the_register_key(north, answer):
    make_register(records=[(ANN, {"children": 3})])
    with_lookups(north, ("large_families", "snils"), rules_=[APPROVE]).save()
    case = SubmittedCaseFactory(service=north, answers={"snils": answer})
    case.refresh_from_db()
    assert case.status == "approved"


@pytest.mark.parametrize(("stored", "answer", "status", "group", "rule"), [
    ([(ANN, {"children": 3})], BOB, "received", "Benefits", "Not in the register"),
    ([], ANN, "received", "Benefits", "Not in the register"),            # empty register
    ([(ANN, {"children": 2})], ANN, "received", "", None),              # found, too few
    ([(ANN, {"note": "no count"})], ANN, "received", "", None),         # field missing
    ([(ANN, {"children": 3})], "not a snils", "received", "Benefits", "Not in the register"),
    ([(ANN, {"children": 3})], None, "received", "Benefits", "Not in the register"),
])
def test_not_in_the_register_or_not_enough_never_approves(north, stored, answer, status,
                                                           group, rule):
    make_register(records=stored)
    with_lookups(north, ("large_families", "snils"), rules_=[APPROVE, ROUTE]).full_clean()
    north.save()
    case = SubmittedCaseFactory(service=north, answers={"snils": answer})
    case.refresh_from_db()
    assert (case.status, case.group) == (status, group)
    decision = AutomatedDecision.objects.filter(case=case).first()
    assert (decision.rule_name if decision else None) == rule
    if decision:
        assert decision.inputs["registers.large_families.found"] is False


def test_a_register_that_was_never_imported_is_recorded_as_such(north):
    make_register()
    with_lookups(north, ("large_families", "snils"), rules_=[ROUTE]).save()
    case = SubmittedCaseFactory(service=north, answers={"snils": ANN})
    inputs = AutomatedDecision.objects.get(case=case).inputs
    assert inputs["registers.large_families"]["imported_at"] is None
    assert inputs["registers.large_families"]["records"] == 0


def test_all_lookups_of_a_case_cost_one_query(north, django_assert_num_queries):
    make_register(records=[(ANN, {"children": 3})])
    make_register("traders", kind="inn_person", fields=[("licence", "text")],
                  records=[("500100732259", {"licence": "L-1"})])
    make_register("plots", kind="text", fields=[("area", "number")],
                  records=[("77:01 ab", {"area": 600})])
    lookups = [{"register": "large_families", "question": "snils"},
               {"register": "traders", "question": "inn"},
               {"register": "plots", "question": "plot"}]
    with django_assert_num_queries(1):
        values, sources = registers.look_up(lookups, {"snils": BOB, "inn": "500100732259",
                                                      "plot": "77:01  AB"})
    assert values == {"large_families": {"found": False},
                      "traders": {"found": True, "licence": "L-1"},
                      "plots": {"found": True, "area": 600}}
    assert sources["traders"]["key"] == "500100732259" and sources["plots"]["key"] == "77:01 ab"


def test_a_register_deleted_after_the_service_was_saved_never_decides(north):
    register = make_register(records=[])
    with_lookups(north, ("large_families", "snils"), rules_=[ROUTE]).save()
    register.delete()
    case = SubmittedCaseFactory(service=north, answers={"snils": ANN})
    case.refresh_from_db()
    assert case.group == "" and not AutomatedDecision.objects.filter(case=case).exists()


# --- Validation -------------------------------------------------------------------------------


def _problems(service, field):
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        service.full_clean()
    return " ".join(caught.value.message_dict.get(field, []))


@pytest.mark.parametrize(("pairs", "message"), [
    ([("nowhere", "snils")], "there is no register “nowhere”"),
    ([("large_families", "passport")], "“passport” is not a question of this form"),
    ([("large_families", "inn")], "must ask for SNILS"),
    ([("large_families", "plot")], "must ask for SNILS"),
    ([("traders", "snils")], "must ask for INN of a person"),
    ([("plots", "floors")], "must ask for a text, choice, e-mail or phone question"),
    ([("large_families", "snils"), ("large_families", "snils")], "already looked up"),
])
def test_lookups_that_cannot_work_are_refused(north, pairs, message):
    make_register()
    make_register("traders", kind="inn_person", fields=[])
    make_register("plots", kind="text", fields=[])
    with_lookups(north, *pairs)
    assert message in _problems(north, "register_lookups")


def test_a_question_named_registers_cannot_share_a_service_with_lookups(north):
    make_register()
    service = OnlineServiceFactory(slug="street-trading", spec=[
        *SPEC, {"type": "text", "name": "registers", "label": "Registers", "required": False}])
    with_lookups(service, ("large_families", "snils"))
    assert "rename the question" in _problems(service, "register_lookups")


@pytest.mark.parametrize(("var", "message"), [
    ("registers.traders.found", "does not look up (it looks up: large_families)"),
    ("registers.nowhere.found", "does not look up"),
    ("registers.large_families.colour", "has no field “colour” (it has: found, children"),
    ("registers.large_families", "read registers.<register code>.found"),
    ("registers", "read registers.<register code>.found"),
])
def test_rules_may_read_only_the_registers_looked_up(north, var, message):
    make_register()
    make_register("traders", kind="inn_person", fields=[])
    with_lookups(north, ("large_families", "snils"),
                 rules_=[{"name": "x", "when": {"!!": [{"var": var}]}, "then": "approve"}])
    assert message in _problems(north, "rules")


def test_rules_reading_registers_without_lookups_are_refused(north):
    make_register()
    with_lookups(north, rules_=[APPROVE])
    assert "it looks up: none" in _problems(north, "rules")


def test_a_register_change_that_would_break_a_service_is_refused(north):
    register = make_register()
    with_lookups(north, ("large_families", "snils"), rules_=[APPROVE]).full_clean()
    north.save()
    register.fields = [{"type": "field", "value": {"name": "note", "type": "text"}}]
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        register.full_clean()
    assert "has no field “children”" in " ".join(caught.value.messages)
    register = Register.objects.get(pk=register.pk)
    register.key_kind = "inn_person"
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        register.full_clean()
    assert "must ask for INN of a person" in " ".join(caught.value.messages)


@pytest.mark.parametrize(("fields", "message"), [
    ([("found", "boolean")], "“found” cannot be a field name"),
    ([("key", "text")], "“key” cannot be a field name"),
    ([("a", "text"), ("a", "number")], "declared twice"),
])
def test_register_fields_that_would_clash_are_refused(north, fields, message):
    register = Register(code="x", name="X", key_kind="snils", fields=[
        {"type": "field", "value": {"name": n, "type": t}} for n, t in fields])
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        register.full_clean()
    assert message in " ".join(caught.value.message_dict["fields"])


def test_rules_are_never_evaluated_as_code():
    with translation.override("en"), pytest.raises(ValueError, match="not allowed"):
        rules._check_logic({"eval": ["registers.x.found"]}, set(), registers={"x": []})


# --- Tenants ----------------------------------------------------------------------------------


def test_a_tenant_reads_only_its_own_register(tenant_a, tenant_b):
    with tenant_context(tenant_b):
        make_register(records=[(ANN, {"children": 1})])
        south = with_lookups(OnlineServiceFactory(spec=SPEC), ("large_families", "snils"),
                             rules_=[APPROVE])
        south.save()
    with tenant_context(tenant_a):
        make_register(records=[(ANN, {"children": 5}), (BOB, {"children": 6})])
        north = with_lookups(OnlineServiceFactory(spec=SPEC), ("large_families", "snils"),
                             rules_=[APPROVE])
        north.save()
        case = SubmittedCaseFactory(service=north, answers={"snils": ANN})
        case.refresh_from_db()
        assert case.status == "approved"
        inputs = AutomatedDecision.objects.get(case=case).inputs
        assert inputs["registers.large_families.children"] == 5
        assert inputs["registers.large_families"]["records"] == 2
    with tenant_context(tenant_b):
        case = SubmittedCaseFactory(service=south, answers={"snils": ANN})
        case.refresh_from_db()
        assert case.status == "received"  # B's record says 1 child: A's 5 were never read
        assert Register.objects.get().record_count == 1
        assert RegisterRecord.objects.count() == 1


# --- Demo -------------------------------------------------------------------------------------


def test_demo_kindergarten_service_checks_the_large_families_register(tenant_a):
    from demo.forms import populate
    from services.models import OnlineService

    with tenant_context(tenant_a):
        populate("ru")
        populate("ru")  # idempotent
        assert Register.objects.get(code="large_families").record_count == 3
        service = OnlineService.objects.get(page__slug="kindergarten-place")
        case = SubmittedCaseFactory(service=service, answers={"child_snils": "11223344595",
                                                              "group": "Полного дня"})
        case.refresh_from_db()
        assert case.group == "Льготная очередь"
        other = SubmittedCaseFactory(service=service, answers={"child_snils": DAN})
        other.refresh_from_db()
        assert other.group == ""


# --- Admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, tenant_a):
    with tenant_context(tenant_a):
        boss = get_user_model().objects.create_superuser("boss", "boss@north.example", "x")
        register = make_register(records=[(DAN, {"children": 7})])
        client.force_login(boss)
    connection.set_schema_to_public()
    return client, register


def test_admin_imports_a_file_and_shows_count_and_last_import(admin_client, tenant_a):
    client, register = admin_client
    url = f"/admin/registers/{register.pk}/import/"
    page = client.get(url, **NORTH)
    assert page.status_code == 200
    assert "key;children;until;disabled;note" in page.content.decode()
    response = client.post(url, {"file": upload(
        f"key;children;until;disabled;note\n{ANN};3;;;\n{BOB};4;;;\n")}, **NORTH)
    assert response.status_code == 302 and response["Location"] == url
    with tenant_context(tenant_a):
        assert set(records(Register.objects.get(pk=register.pk))) == {ANN, BOB}
    html = client.get(url, **NORTH).content.decode()
    assert 'data-record-count="2"' in html
    listing = client.get("/admin/snippets/services/register/", **NORTH).content.decode()
    assert url in listing
    edit = client.get(f"/admin/snippets/services/register/edit/{register.pk}/", **NORTH)
    assert edit.status_code == 200 and url in edit.content.decode()
    assert "data-register-status" in edit.content.decode()


def test_admin_shows_every_bad_line_and_changes_nothing(admin_client, tenant_a):
    client, register = admin_client
    url = f"/admin/registers/{register.pk}/import/"
    response = client.post(url, {"file": upload(
        f"key,children,until,disabled,note\n{ANN},3,,,\n112-233-445 96,x,,,\n,1,,,\n")},
        **NORTH)
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-import-errors" in html
    assert 'data-line="3"' in html and 'data-line="4"' in html and 'data-line="2"' not in html
    with tenant_context(tenant_a):
        assert records(Register.objects.get(pk=register.pk)) == {DAN: {"children": 7}}
    assert client.post(url, {}, **NORTH).status_code == 200  # no file: the form says so


def test_only_users_who_can_change_registers_import(client, tenant_a):
    with tenant_context(tenant_a):
        register = make_register(records=[(DAN, {})])
        clerk = get_user_model().objects.create_user("clerk", "clerk@north.example", "x")
        clerk.user_permissions.add(Permission.objects.get(codename="access_admin"))
        client.force_login(clerk)
    connection.set_schema_to_public()
    url = f"/admin/registers/{register.pk}/import/"
    for response in (client.get(url, **NORTH),
                     client.post(url, {"file": upload(f"key,children,until,disabled,note\n"
                                                      f"{ANN},1,,,\n")}, **NORTH)):
        assert response.status_code in (302, 403)
        assert url not in response.get("Location", "")
    with tenant_context(tenant_a):
        assert records(Register.objects.get(pk=register.pk)) == {DAN: {}}
    client.logout()
    assert client.get(url, **NORTH).status_code == 302  # anonymous: to the login page


def test_admin_refuses_to_delete_a_register_a_service_looks_up(admin_client, tenant_a):
    client, register = admin_client
    with tenant_context(tenant_a):
        with_lookups(OnlineServiceFactory(spec=SPEC), ("large_families", "snils")).save()
    response = client.post(f"/admin/snippets/services/register/delete/{register.pk}/",
                           **NORTH)
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Register.objects.filter(pk=register.pk).exists()


def test_the_case_page_shows_what_the_register_held_when_the_rule_read_it(admin_client,
                                                                         tenant_a):
    client, register = admin_client
    with tenant_context(tenant_a):
        service = with_lookups(OnlineServiceFactory(spec=SPEC), ("large_families", "snils"),
                               rules_=[APPROVE])
        service.full_clean()
        service.save()
        case = SubmittedCaseFactory(service=service, answers={"snils": DAN})
    connection.set_schema_to_public()
    page = client.get(f"/admin/cases/{case.pk}/", **NORTH).content.decode()
    assert "registers.large_families.children</code> = 7" in page
    # The source in words (the admin's language), never a raw dict.
    source = page.split("registers.large_families</code> = ", 1)[1].split("</li>", 1)[0]
    assert source.startswith(f"{register.name}: ") and DAN in source
    assert register.imported_at.isoformat() in source and "{" not in source
