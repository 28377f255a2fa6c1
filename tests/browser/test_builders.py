"""Builders, not codes (issue 12), in the Russian admin: an editor adds a question shown only
for one answer of an earlier question, choosing the question and the answer from lists (the
list offers a question added a moment ago, before anything is saved), and composes an
automatic rule from lists; what is saved is the same spec and JSON Logic as before; a workflow
step's states and group are lists too. axe-core finds no WCAG 2.2 A/AA violations on the
online service's and the workflow's edit screens."""

import re

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from .test_case_journey import DESK, SIGN_IN, assert_admin_accessible

pytestmark = pytest.mark.django_db

SLUG = "land-plot-scheme"  # a demo service page no demo form uses
FORM = [
    {"type": "number", "name": "area", "label": "Площадь участка, кв. м", "required": True},
    {"type": "yes_no", "name": "heritage", "label": "Участок в зоне охраны памятника?",
     "required": True},
]


@pytest.fixture(scope="module")
def editor(browser_tenant, django_db_blocker):
    """An administrator of the tenant reading the admin in Russian, and the online service
    they edit (two questions, no rules); committed for the live server, removed after."""
    import secrets

    from django.contrib.auth import get_user_model
    from wagtail.users.models import UserProfile

    from cms.models import ServicePage
    from services.forms.blocks import stream_data_from_spec
    from services.models import OnlineService

    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        user = get_user_model().objects.create_superuser(
            "redaktor", "redaktor@lesnoy.example", password, first_name="Вера",
            last_name="Орлова")
        profile = UserProfile.get_for_user(user)
        profile.preferred_language = "ru"
        profile.save()
        page = ServicePage.objects.get(slug=SLUG, locale__language_code="ru")
        service = OnlineService.objects.create(page=page, form=stream_data_from_spec(FORM))
    yield {"username": user.username, "password": password, "pk": service.pk}
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        OnlineService.objects.filter(pk=service.pk).delete()
        user.delete()


@pytest.fixture
def desk(browser):
    context = browser.new_context(viewport=DESK, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(60_000)  # readiness bound on a loaded machine, not a speed check
    yield page
    context.close()


def add_block(page, field, kind):
    """Wagtail's "+" at the end of a StreamField, then the block type by its name."""
    stream = page.locator(f"[data-contentpath='{field}']").first
    stream.locator("button[title='Вставить блок'], button[aria-label='Вставить блок'], "
                   "button.c-sf-add-button").last.click()
    page.get_by_role("option", name=kind, exact=True).click()


def test_editor_builds_a_condition_and_a_rule_from_lists(site, desk, browser_tenant, editor):
    from services.models import OnlineService

    desk.goto(f"{site}/admin/login/")
    desk.locator("#id_username").fill(editor["username"])
    desk.locator("#id_password").fill(editor["password"])
    desk.get_by_role("button", name=SIGN_IN).click()
    desk.wait_for_url(f"{site}/admin/")
    edit = f"{site}/admin/snippets/services/onlineservice/edit/{editor['pk']}/"
    desk.goto(edit)

    # A new question, asked only when the heritage question is answered "Да": both picked
    # from lists, the question among those above it, before anything is saved.
    add_block(desk, "form", "Текст")
    desk.locator("[name='form-2-value-label']").fill("Номер охранного обязательства")
    question = desk.locator("[name='form-2-value-show_if_field']")
    expect(question.locator("option")).to_have_text(
        ["Спрашивать всегда", "Площадь участка, кв. м", "Участок в зоне охраны памятника?"])
    question.select_option(label="Участок в зоне охраны памятника?")
    answer = desk.locator("#form-2-value-show_if_value")  # the list of that question's answers
    expect(answer.locator("option")).to_have_text(["Выберите…", "Да", "Нет"])
    answer.select_option(label="Да")

    # A rule: when the area is at most 1500 and the plot is not in a heritage zone, approve.
    add_block(desk, "rules", "Правило")
    desk.locator("[name='rules-0-value-name']").fill("Небольшой участок вне охранной зоны")
    desk.locator("[name='rules-0-value-conditions-0-value-subject']").select_option(
        label="Площадь участка, кв. м")
    operator = desk.locator("[name='rules-0-value-conditions-0-value-operator']")
    expect(operator.locator("option:not([hidden])")).to_have_count(8)  # a number's operators
    operator.select_option(label="не больше")
    desk.locator("#rules-0-value-conditions-0-value-answer").fill("1500")
    desk.locator("[data-contentpath='conditions'] button[data-streamfield-list-add]").last \
        .click()
    desk.locator("[name='rules-0-value-conditions-1-value-subject']").select_option(
        label="Участок в зоне охраны памятника?")
    desk.locator("[name='rules-0-value-conditions-1-value-operator']").select_option(
        label="равно")
    desk.locator("#rules-0-value-conditions-1-value-answer").select_option(label="Нет")
    desk.locator("[name='rules-0-value-then']").select_option(value="approve")
    desk.get_by_role("button", name="Сохранить").click()
    desk.wait_for_url(re.compile(r"/admin/snippets/services/onlineservice/(\?.*)?$"))

    with tenant_context(browser_tenant):
        service = OnlineService.objects.get(pk=editor["pk"])
        spec = service.current_version().spec
        assert spec[2]["show_if"] == {"field": "heritage", "value": "yes"}
        assert service.rules == [{
            "name": "Небольшой участок вне охранной зоны", "then": "approve",
            "when": {"and": [{"<=": [{"var": "area"}, 1500]},
                             {"==": [{"var": "heritage"}, "no"]}]}}]

    # Reopened, the lists show what was chosen; the screen passes axe.
    desk.goto(edit)
    expect(desk.locator("[name='form-2-value-show_if_field'] option:checked")).to_have_text(
        "Участок в зоне охраны памятника?")
    expect(desk.locator("#form-2-value-show_if_value option:checked")).to_have_text("Да")
    expect(desk.locator("[name='rules-0-value-conditions-0-value-subject'] "
                        "option:checked")).to_have_text("Площадь участка, кв. м")
    assert_admin_accessible(desk)

    # The workflow editor: a step's states are ticked in a list of the workflow's states
    # (those that end the case marked), who takes it is chosen from the tenant's groups.
    desk.goto(f"{site}/admin/snippets/services/workflow/")
    desk.get_by_role("link", name="Standard").first.click()
    step = desk.get_by_role("group", name="Из статусов").nth(1)  # request_info
    expect(step.get_by_role("checkbox", name="Рассматривается (in_review)")).to_be_checked()
    expect(step.get_by_role("checkbox", name="Одобрено (approved) (завершает дело)")) \
        .not_to_be_checked()
    expect(desk.locator("[name='transitions-1-value-group'] option:checked")) \
        .to_have_text("Case workers")
    assert_admin_accessible(desk)


CONDITIONAL_SLUG = "school-enrolment"  # a demo service page no demo form uses
CONDITIONAL = [
    {"type": "number", "name": "area", "label": "Площадь участка, кв. м", "required": True},
    {"type": "text", "name": "survey", "label": "Номер межевого плана", "required": True,
     "show_if": {"field": "area", "op": "gt", "value": "1000"}},
    {"type": "phone", "name": "spare_phone", "label": "Запасной телефон", "required": False},
    {"type": "text", "name": "reach", "label": "Как с вами связаться", "required": True,
     "show_if": {"field": "spare_phone", "op": "not_answered"}},
]


@pytest.fixture(scope="module")
def conditional_service(browser_tenant, django_db_blocker):
    """A form whose conditions compare a number and ask whether a question was answered;
    committed for the live server, removed after."""
    from cms.models import ServicePage
    from services.forms.blocks import stream_data_from_spec
    from services.models import OnlineService

    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        page = ServicePage.objects.get(slug=CONDITIONAL_SLUG, locale__language_code="ru")
        service = OnlineService.objects.create(page=page,
                                               form=stream_data_from_spec(CONDITIONAL))
    yield CONDITIONAL_SLUG
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        OnlineService.objects.filter(pk=service.pk).delete()


def test_the_applicant_sees_questions_appear_as_numbers_and_answers_say(site, phone,
                                                                         conditional_service):
    phone.goto(f"{site}/ru/apply/{conditional_service}/")
    survey = phone.locator("[data-question='survey']")
    reach = phone.locator("[data-question='reach']")
    expect(survey).to_be_hidden()
    expect(reach).to_be_visible()  # the spare phone is not answered yet
    expect(reach).to_contain_text(
        "Ответьте, только если вы не ответили на вопрос «Запасной телефон».")
    phone.get_by_label("Площадь участка, кв. м").fill("1 200")
    expect(survey).to_be_visible()
    expect(survey).to_contain_text(
        "Ответьте, только если на вопрос «Площадь участка, кв. м» вы ответили больше 1000.")
    phone.get_by_label("Площадь участка, кв. м").fill("800")
    expect(survey).to_be_hidden()
    phone.get_by_label("Запасной телефон").fill("+7 900 000 00 00")
    expect(reach).to_be_hidden()
