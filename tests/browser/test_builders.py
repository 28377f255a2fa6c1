"""Builders, not codes (issue 12), through the real Wagtail admin in Chromium, in a Russian
tenant: an editor (not an administrator) creates a service page with a Russian title, builds
its online form in the page's "Online application" tab with a condition chosen from lists
(the list offers a question added a moment ago, before anything is saved) and an automatic
rule from the rules builder, previews the page, and submits it for moderation; a moderator
approves and so publishes it; a citizen on a phone applies and gets a reference, and the rule
decides the case. A workflow step's states and group are lists too, the group shown by its
translated name. axe-core finds no WCAG 2.2 A/AA violations on each admin screen dgbox adds
that the editor and the tenant's administrator use."""

import re
import secrets
from urllib.parse import quote

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db

DESK = {"width": 1280, "height": 900}
SIGN_IN = re.compile(r"^(Войти|Sign in)$")
MORE_ACTIONS = re.compile(r"^(Больше действий|More actions)$")
CONTINUE = re.compile(r"^(Продолжить|Continue)$")
ACCEPT = re.compile(r"^(Подтвердить и отправить|Accept and send)$")
REFERENCE = re.compile(r"[A-Z]{2,5}-\d{4}-\d{6}")

TITLE = "Разрешение на установку ограждения"
SLUG = "разрешение-на-установку-ограждения"  # what Wagtail makes of the title
HEIGHT, ROAD, PERMIT = ("Высота ограждения, м", "Участок граничит с дорогой?",
                        "Номер согласования с ГИБДД")


@pytest.fixture(scope="module")
def people(browser_tenant, django_db_blocker):
    """An editor (Wagtail's Editors group: writes pages, cannot publish), a moderator (the
    Moderators group) and an administrator of the browser tenant, each reading the admin in
    Russian; committed for the live server, removed after."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from wagtail.users.models import UserProfile

    made = {}
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        User = get_user_model()
        for role, group, names in (("editor", "Editors", ("Вера", "Орлова")),
                                   ("moderator", "Moderators", ("Антон", "Белов")),
                                   ("administrator", None, ("Светлана", "Кузнецова"))):
            password = secrets.token_urlsafe(12)
            username = f"{role}-builders@lesnoy.example"
            if group:
                user = User.objects.create_user(username, username, password, is_staff=True,
                                                first_name=names[0], last_name=names[1])
                user.groups.add(Group.objects.get(name=group))
            else:
                user = User.objects.create_superuser(username, username, password,
                                                     first_name=names[0], last_name=names[1])
            profile = UserProfile.get_for_user(user)
            profile.preferred_language = "ru"
            profile.save()
            made[role] = {"username": username, "password": password, "pk": user.pk}
    yield made
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        get_user_model().objects.filter(pk__in=[p["pk"] for p in made.values()]).delete()


# Wagtail 8 autosaves an edit form in the background (a fetch POST about a second after a
# change is noticed, WAGTAIL_AUTOSAVE_INTERVAL). These journeys click "Save draft", "Submit for
# moderation" and "Approve" themselves; an autosave landing in the same moment was a second
# POST racing the click: on the create view the autosave made the page and the click's own
# POST then got 409 (Conflict), so the editor stayed on the create view and waiting for the
# edit view's URL timed out; later, an autosave of the moderator's screen could land after the
# approval. The test's pages turn autosave off before Wagtail's controllers start (the form's
# Stimulus value, set as the parser inserts the form), so every save is the click's own.
NO_AUTOSAVE = """
new MutationObserver((_, observer) => {
  const form = document.querySelector("form[data-edit-form]");
  if (form) {
    form.setAttribute("data-w-autosave-active-value", "false");
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""


def desk_page(browser):
    context = browser.new_context(viewport=DESK, locale="ru-RU")
    context.add_init_script(NO_AUTOSAVE)
    page = context.new_page()
    page.set_default_timeout(60_000)  # readiness bound on a loaded machine, not a speed check
    return page


def sign_in(page, site, person):
    page.goto(f"{site}/admin/login/")
    page.locator("#id_username").fill(person["username"])
    page.locator("#id_password").fill(person["password"])
    page.get_by_role("button", name=SIGN_IN).click()
    page.wait_for_url(f"{site}/admin/")


def add_block(page, field, kind):
    """Wagtail's "+" at the end of a StreamField, then the block type by its name."""
    stream = page.locator(f"[data-contentpath='{field}']").first
    stream.locator("button[title='Вставить блок'], button[aria-label='Вставить блок'], "
                   "button.c-sf-add-button").last.click()
    page.get_by_role("option", name=kind, exact=True).click()


def write_rich_text(page, field, text):
    editor = page.locator(f"[data-contentpath='{field}'] [contenteditable='true']").first
    editor.click()
    page.keyboard.type(text)


def submit(page, button, url):
    """Click a form's submit button and wait for the page it leads to (a URL pattern), loaded.

    Waiting for the URL after the click is not enough where the form's page already matches
    (saving a draft reloads the same edit view): it returns at once, before the POST is
    answered, and the next step acts on the page being left."""
    with page.expect_navigation(url=url):
        button.click()


def footer_action(page, selector, url):
    """A page action behind the footer's "More actions" toggle, then the page it leads to."""
    page.locator("footer").get_by_role("button", name=MORE_ACTIONS).click()
    submit(page, page.locator(f"footer {selector}"), url)


def test_an_editor_builds_a_service_a_moderator_publishes_and_a_citizen_applies(
        site, browser, browser_tenant, people, phone, assert_admin_accessible, check_step):
    from cms.models import ServiceIndexPage, ServicePage
    from services.models import Case

    with tenant_context(browser_tenant):
        index = ServiceIndexPage.objects.get(locale__language_code="ru").pk
    desk = desk_page(browser)
    sign_in(desk, site, people["editor"])
    desk.goto(f"{site}/admin/pages/add/cms/servicepage/{index}/")

    # The content tab, in Russian.
    desk.locator("#id_title").fill(TITLE)
    desk.locator("#id_summary").fill("Разрешение на забор или ограждение участка у дороги.")
    write_rich_text(desk, "who_can_apply", "Владельцы и арендаторы участков.")
    write_rich_text(desk, "legal_basis", "Правила благоустройства посёлка.")
    desk.locator("#id_processing_days").fill("10")
    desk.locator("#id_channels-0-kind").select_option("office")
    desk.locator("#id_channels-0-details").fill("В администрации посёлка, окно 3.")
    assert_admin_accessible(desk)

    # The online form: a question shown only for one answer of an earlier question, both
    # chosen from lists, before anything is saved.
    desk.get_by_role("tab", name="Подача онлайн").click()
    desk.locator("#id_online_services-ADD").click()
    add_block(desk, "form", "Число")
    desk.locator("[name='online_services-0-form-0-value-label']").fill(HEIGHT)
    add_block(desk, "form", "Да или нет")
    desk.locator("[name='online_services-0-form-1-value-label']").fill(ROAD)
    add_block(desk, "form", "Текст")
    desk.locator("[name='online_services-0-form-2-value-label']").fill(PERMIT)
    question = desk.locator("[name='online_services-0-form-2-value-show_if_field']")
    expect(question.locator("option")).to_have_text(["Спрашивать всегда", HEIGHT, ROAD])
    question.select_option(label=ROAD)
    answer = desk.locator("#online_services-0-form-2-value-show_if_value")
    expect(answer.locator("option")).to_have_text(["Выберите…", "Да", "Нет"])
    answer.select_option(label="Да")
    assert_admin_accessible(desk)
    submit(desk, desk.get_by_role("button", name="Сохранить черновик"),
           re.compile(r"/admin/pages/\d+/edit/$"))
    with tenant_context(browser_tenant):
        page = ServicePage.objects.get(title=TITLE)
        assert page.slug == SLUG and not page.live

    # The rules builder offers the saved draft's questions: approve a fence up to 2 m.
    desk.get_by_role("tab", name="Подача онлайн").click()
    add_block(desk, "rules", "Правило")
    rule = "online_services-0-rules-0-value"
    desk.locator(f"[name='{rule}-name']").fill("Невысокое ограждение")
    desk.locator(f"[name='{rule}-conditions-0-value-subject']").select_option(label=HEIGHT)
    operator = desk.locator(f"[name='{rule}-conditions-0-value-operator']")
    expect(operator.locator("option:not([hidden])")).to_have_count(8)  # a number's operators
    operator.select_option(label="не больше")
    desk.locator(f"#{rule}-conditions-0-value-answer").fill("2")
    desk.locator(f"[name='{rule}-then']").select_option(value="approve")
    assert_admin_accessible(desk)
    submit(desk, desk.get_by_role("button", name="Сохранить черновик"),
           re.compile(rf"/admin/pages/{page.pk}/edit/$"))
    with tenant_context(browser_tenant):
        draft = ServicePage.objects.get(pk=page.pk).get_latest_revision_as_object()
        [online] = draft.online_services.all()
        assert online.spec[2]["show_if"] == {"field": online.spec[1]["name"], "value": "yes"}
        assert online.rules == [{"name": "Невысокое ограждение", "then": "approve",
                                 "when": {"<=": [{"var": online.spec[0]["name"]}, 2]}}]

    # Preview: the draft page with its (inactive) button and the draft's questions.
    desk.locator("[data-side-panel-toggle='preview']").click()
    preview = desk.frame_locator("#w-preview-iframe")
    expect(preview.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(preview.locator("[data-online-form-preview]")).to_be_visible()
    expect(preview.locator(".govuk-details__text")).to_contain_text(PERMIT)
    assert_admin_accessible(desk)

    footer_action(desk, "button[name='action-submit']", re.compile(r"/admin/pages/\d+/$"))
    with tenant_context(browser_tenant):
        submitted = ServicePage.objects.get(pk=page.pk)
        assert not submitted.live
        assert submitted.current_workflow_state.status == "in_progress"
    desk.context.close()

    # The moderator approves: the page, its form and its rule are published together.
    moderator = desk_page(browser)
    sign_in(moderator, site, people["moderator"])
    moderator.goto(f"{site}/admin/pages/{page.pk}/edit/")
    assert_admin_accessible(moderator)
    footer_action(moderator, "button[data-workflow-action-name='approve']"
                             ":not([data-workflow-action-modal-url])",
                  re.compile(r"/admin/pages/\d+/$"))
    expect(moderator.locator(".messages .success")).to_be_visible()
    with tenant_context(browser_tenant):
        published = ServicePage.objects.get(pk=page.pk)
        assert published.live
        live_form = published.online_services.get()
        assert live_form.current_version().spec == online.spec  # what was drafted
        assert live_form.rules == online.rules
    moderator.context.close()

    # The citizen, on a phone.
    phone.goto(f"{site}/ru/services/{quote(SLUG)}/")
    check_step(phone)
    phone.get_by_role("button", name="Подать заявление онлайн").click()
    phone.wait_for_url(re.compile(r"/ru/apply/"))
    expect(phone.get_by_role("heading", level=1)).to_have_text(TITLE)
    permit = phone.get_by_label(PERMIT)
    expect(permit).to_be_hidden()
    phone.locator("#id_applicant_name").fill("Пётр Иванов")
    phone.locator("#id_applicant_email").fill("petr@example.org")
    phone.get_by_label(HEIGHT).fill("2")
    phone.get_by_role("group", name=ROAD).get_by_label("Да").check()
    expect(permit).to_be_visible()
    permit.fill("ГИБДД-15/2026")
    check_step(phone)
    phone.get_by_role("button", name=CONTINUE).click()
    phone.wait_for_url(re.compile(r"/ru/apply/.+/check/$"))
    expect(phone.locator(".govuk-summary-list")).to_contain_text("ГИБДД-15/2026")
    check_step(phone)
    phone.get_by_role("button", name=ACCEPT).click()
    phone.wait_for_url(re.compile(r"/ru/apply/.+/done/$"))
    check_step(phone)
    reference = REFERENCE.search(phone.locator("main").inner_text()).group(0)
    with tenant_context(browser_tenant):
        case = Case.objects.get(reference=reference)
        assert case.service.page_id == page.pk
        assert case.status == "approved"  # the rule built above decided it


def test_a_workflow_step_chooses_states_and_a_translated_group(site, browser, people,
                                                                assert_admin_accessible):
    desk = desk_page(browser)
    sign_in(desk, site, people["administrator"])
    desk.goto(f"{site}/admin/snippets/services/workflow/")
    desk.get_by_role("link", name="Standard").first.click()
    step = desk.get_by_role("group", name="Из статусов").nth(1)  # request_info
    expect(step.get_by_role("checkbox", name="Рассматривается (in_review)")).to_be_checked()
    expect(step.get_by_role("checkbox", name="Одобрено (approved) (завершает дело)")) \
        .not_to_be_checked()
    expect(desk.locator("[name='transitions-1-value-group'] option:checked")) \
        .to_have_text("Специалисты по заявлениям")
    assert_admin_accessible(desk)
    desk.context.close()


#: The admin screens dgbox adds or changes that editors and the tenant's administrator use.
ADMIN_SCREENS = [
    "/admin/online-services/",
    "/admin/settings/services/servicessettings/",
    "/admin/staff/invite/",
    "/admin/snippets/services/register/",
    "/admin/snippets/services/register/add/",
    "/admin/snippets/services/workflow/",
    "/admin/snippets/services/workflow/add/",
    "/admin/snippets/services/decisionlettertemplate/",
    "/admin/cases/",
    "/admin/groups/",
    "/admin/users/",
]


def test_the_admin_screens_dgbox_adds_pass_axe(site, browser, browser_tenant, people,
                                                assert_admin_accessible):
    from django.contrib.auth.models import Group

    from cms.models import ServicePage
    from services.models import OnlineService, Workflow

    with tenant_context(browser_tenant):
        service = OnlineService.objects.filter(page__live=True).select_related("page").first()
        page = service.page if service else ServicePage.objects.live().first()
        workflow = Workflow.default().pk
        group = Group.objects.get(name="Case workers").pk
    desk = desk_page(browser)
    sign_in(desk, site, people["administrator"])
    screens = [*ADMIN_SCREENS, f"/admin/snippets/services/workflow/edit/{workflow}/",
               f"/admin/groups/edit/{group}/", f"/admin/users/edit/{people['editor']['pk']}/"]
    for screen in screens:
        response = desk.goto(f"{site}{screen}")
        assert response.status == 200, screen
        assert_admin_accessible(desk)
    # The service page editor, each of its tabs (the builders in "Online application").
    desk.goto(f"{site}/admin/pages/{page.pk}/edit/")
    for tab in desk.get_by_role("tab").all():
        tab.click()
        assert_admin_accessible(desk)
    # A user's Roles tab, groups by their translated names.
    desk.goto(f"{site}/admin/users/edit/{people['editor']['pk']}/")
    desk.get_by_role("tab", name="Роли").click()
    expect(desk.get_by_label("Редакторы")).to_be_checked()
    assert_admin_accessible(desk)
    desk.context.close()


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
