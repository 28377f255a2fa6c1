"""A case from request to decision, through the real screens (issue #5): a case worker logs in
to the admin, finds the case in the inbox by its reference and asks the applicant for more
information; the applicant, tracking the case on a phone with the code e-mailed to them, reads
the request and answers with a document; the case worker sees the answer and approves; the
applicant sees the decision and downloads the decision letter. axe-core finds no WCAG 2.2
A/AA violations on the applicant's pages, the inbox or the case page."""

import re
import secrets
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

# The live server's threads write through their own (committed) connections; this test reads
# what they wrote through the test's connection, which sees committed rows.
pytestmark = pytest.mark.django_db

SLUG = "street-trading"  # demo/forms.py: no upload asked, no automatic rules
APPLICANT_EMAIL = "oleg@example.org"
REQUEST = "Пришлите, пожалуйста, схему торгового места с размерами."
ANSWER = "Схема во вложении: 2 × 3 метра, у входа в парк."
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
UPLOAD = {"name": "схема.pdf", "mimeType": "application/pdf", "buffer": PDF}
DESK = {"width": 1280, "height": 900}
CODE = re.compile(r"(?<![-\d])(\d{6})(?![-\d])")
# Russian, or English where a translation is missing (Wagtail's login, the services app).
SIGN_IN = re.compile(r"^(Войти|Sign in)$")
CONTINUE = re.compile(r"^(Продолжить|Continue)$")


@pytest.fixture(scope="module")
def case_worker(browser_tenant, django_db_blocker):
    """A member of staff of the tenant, not a superuser: Wagtail admin access, permission to
    view cases (the inbox and case pages ask for it), in the group that takes the standard
    workflow's steps; reads the admin in Russian. Committed for the live server."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from wagtail.users.models import UserProfile

    from services.workflows.spec import STAFF_GROUP

    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        user = get_user_model().objects.create_user(
            "irina", "irina@lesnoy.example", password, first_name="Ирина",
            last_name="Смирнова")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="wagtailadmin",
                                   codename="access_admin"),
            Permission.objects.get(content_type__app_label="services", codename="view_case"))
        user.groups.add(Group.objects.get_or_create(name=STAFF_GROUP)[0])
        profile = UserProfile.get_for_user(user)
        profile.preferred_language = "ru"
        profile.save()
    return {"username": user.username, "password": password, "pk": user.pk}


@pytest.fixture(scope="module")
def submitted_case(browser_tenant, django_db_blocker):
    """A street-trading application submitted the way the apply form does it (validated by
    the form, saved as a draft, submitted; test_apply_journey drives that form in the
    browser), committed for the live server. The demo services made here are closed again
    so that the other browser tests see the service pages as before."""
    from django.http import QueryDict

    from demo.forms import populate
    from services.applications import submission
    from services.forms import spec as formspec
    from services.models import OnlineService

    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        before = dict(OnlineService.objects.values_list("pk", "accepting"))
        populate("ru")
        for service in OnlineService.objects.exclude(pk__in=before):
            OnlineService.objects.filter(pk=service.pk).update(accepting=False)
        service = OnlineService.objects.select_related("page").get(page__slug=SLUG)
        version = service.versions.order_by("-number").first() or service.current_version()
        data = QueryDict(mutable=True)
        data.update({"applicant_name": "Олег Кузнецов", "applicant_email": APPLICANT_EMAIL,
                     "inn": "500100732259",
                     "start": (timezone.localdate() + timedelta(days=30)).isoformat()})
        data.setlist("goods", ["Цветы", "Выпечка"])
        form = formspec.ApplicationForm(version.spec, data)
        assert form.is_valid(), form.errors
        draft = submission.save_draft(service, version, form.cleaned_data, language="ru")
        case, _created = submission.submit_application(draft.token)
        assert case.status == "received", case.status  # nobody has touched it yet
    return case.reference


@pytest.fixture
def desk(browser):
    """The case worker's browser: a desktop window of its own (own cookies)."""
    context = browser.new_context(viewport=DESK, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(60_000)  # readiness bound on a loaded machine, not a speed check
    yield page
    context.close()


def test_case_worker_asks_for_more_information_then_approves(
        site, desk, phone, browser_tenant, case_worker, submitted_case, s3_bucket,
        assert_admin_accessible, check_step):
    reference = submitted_case
    cache.clear()  # tracking's rate limits count per client address, and all tests are 127.0.0.1

    # The case worker logs in and finds the case in the inbox by its reference.
    desk.goto(f"{site}/admin/login/")
    desk.locator("#id_username").fill(case_worker["username"])
    desk.locator("#id_password").fill(case_worker["password"])
    desk.get_by_role("button", name=SIGN_IN).click()
    desk.wait_for_url(f"{site}/admin/")
    desk.get_by_role("link", name="Заявления", exact=True).click()
    desk.wait_for_url(f"{site}/admin/cases/")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Заявления")
    rows = desk.locator("#listing-results tbody tr")
    expect(rows.filter(has_text=reference)).to_have_count(1)
    assert_admin_accessible(desk)
    desk.get_by_label("Найти по номеру, имени или e-mail заявителя").fill(reference)
    desk.get_by_role("button", name="Найти", exact=True).click()
    # The term is posted: the address carries an opaque token, never what was searched.
    expect(desk).to_have_url(re.compile(r"/admin/cases/\?search=[\w-]+$"))
    assert reference not in desk.url
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Олег Кузнецов")
    expect(rows.first).to_contain_text("Получено")
    rows.first.get_by_role("link", name=reference).click()
    desk.wait_for_url(re.compile(r"/admin/cases/\d+/$"))
    case_url = desk.url

    # The case page: the answers, and the request for more information as a next action.
    state = desk.locator("[data-case-state]")
    expect(state).to_have_attribute("data-case-state", "received")
    expect(state).to_contain_text("Получено")
    expect(desk.get_by_text("500100732259", exact=True)).to_be_visible()  # the INN answered
    assert_admin_accessible(desk)
    ask = desk.locator("form[data-transition='request_info']")
    expect(ask.get_by_role("heading")).to_have_text("Запросить сведения")
    ask.get_by_label("Сообщение заявителю").fill(REQUEST)
    ask.get_by_role("button", name="Запросить сведения").click()
    expect(state).to_have_attribute("data-case-state", "more_info")
    expect(state).to_contain_text("Нужны дополнительные сведения")
    done = desk.locator(".messages .success")
    expect(done).to_have_text(f"{reference}: выполнено действие «Запросить сведения». "
                              "Новый статус: «Нужны дополнительные сведения».")
    expect(desk.locator("[data-note-kind='request']")).to_contain_text(REQUEST)
    # Nothing for staff to do while the applicant is asked.
    expect(desk.locator("form[data-transition]")).to_have_count(1)  # withdraw only
    expect(desk.locator("form[data-transition='withdraw']")).to_have_count(1)
    assert desk.url == case_url
    assert_admin_accessible(desk)

    # The applicant was told; they track the case with the code e-mailed to them.
    assert any(reference in m.body and m.to == [APPLICANT_EMAIL] for m in mail.outbox)
    sent_before = len(mail.outbox)
    phone.goto(f"{site}/ru/track/")
    phone.locator("#id_reference").fill(reference)
    phone.get_by_role("button", name="Получить код").click()
    phone.wait_for_url("**/ru/track/code/")
    assert len(mail.outbox) == sent_before + 1
    message = mail.outbox[-1]
    assert message.to == [APPLICANT_EMAIL]
    phone.locator("#id_code").fill(CODE.search(message.body).group(1))
    phone.get_by_role("button", name=CONTINUE).click()
    phone.wait_for_url("**/ru/track/status/")

    # The status page shows what was asked and takes the answer, with a document.
    expect(phone.get_by_role("heading", level=1)).to_have_text("Ваше заявление")
    status = phone.locator("[data-status]")
    expect(status).to_have_text("Нужны дополнительные сведения")
    expect(phone.get_by_role("heading", level=2, name="Нужны дополнительные сведения")) \
        .to_be_visible()
    expect(phone.locator("[data-request-message]")).to_have_text(REQUEST)
    check_step(phone)
    phone.get_by_label("Ваш ответ").fill(ANSWER)
    phone.get_by_label("Документ (необязательно)").set_input_files(UPLOAD)
    phone.get_by_role("button", name="Отправить").click()
    # Back on the status page: the answer is confirmed in the history, the case is being
    # reviewed again and nothing more is asked.
    timeline = phone.locator(".dgbox-timeline li")
    expect(timeline.filter(has_text="Вы отправили запрошенные сведения.")).to_have_count(1)
    expect(status).to_have_text("Рассматривается")
    expect(phone.locator("[data-request-message]")).to_have_count(0)
    expect(phone.get_by_label("Ваш ответ")).to_have_count(0)
    check_step(phone)

    # The case worker reloads the case: the answer and the document are there, the case is
    # back in review; they approve it.
    desk.reload()
    expect(state).to_have_attribute("data-case-state", "in_review")
    expect(state).to_contain_text("Рассматривается")
    expect(desk.locator("[data-note-kind='answer']")).to_contain_text(ANSWER)
    expect(desk.get_by_role("link", name="схема.pdf")).to_be_visible()
    approve = desk.locator("form[data-transition='approve']")
    approve.get_by_role("button", name="Одобрить").click()
    expect(state).to_have_attribute("data-case-state", "approved")
    expect(done).to_contain_text("Новый статус: «Одобрено».")
    expect(state).to_contain_text("Одобрено")
    expect(desk.get_by_text("Это заявление закрыто.")).to_be_visible()
    expect(desk.locator("form[data-transition]")).to_have_count(0)
    assert_admin_accessible(desk)

    # The applicant sees the decision in plain words and downloads the letter.
    phone.reload()
    expect(status).to_have_text("Одобрено")
    expect(timeline.filter(has_text="Статус: Одобрено.")).to_have_count(1)
    expect(timeline.filter(has_text="Письмо с решением готово.")).to_have_count(1)
    check_step(phone)
    with phone.expect_download() as download_info:
        phone.get_by_role("link", name="Скачать письмо с решением").click()
    download = download_info.value
    assert download.suggested_filename == f"{reference}-approved.html"
    with open(download.path(), encoding="utf-8") as letter:
        html = letter.read()
    assert '<html lang="ru">' in html and reference in html
    assert "Решение: заявление одобрено." in html and "Олег Кузнецов" in html

    # What the database recorded.
    from services.models import Case, CaseEvent

    with tenant_context(browser_tenant):
        case = Case.objects.get(reference=reference)
        assert case.status == "approved" and case.closed_at is not None
        steps = [(e.data["transition"], e.actor_role, e.actor_id)
                 for e in case.events.filter(kind=CaseEvent.Kind.STATUS).order_by("at", "id")]
        worker = case_worker["pk"]
        assert steps == [("request_info", "staff", worker), ("info_received", "applicant", None),
                         ("approve", "staff", worker)], steps
        kinds = list(case.events.order_by("at", "id").values_list("kind", flat=True))
        assert kinds.count(CaseEvent.Kind.INFO_PROVIDED) == 1
        assert kinds.index(CaseEvent.Kind.INFO_PROVIDED) < kinds.index(CaseEvent.Kind.LETTER)
        notes = list(case.notes.order_by("created_at").values_list("kind", "text", "author"))
        assert notes == [("request", REQUEST, worker), ("answer", ANSWER, None)], notes
        upload = case.files.get(field_name="more_info")
        assert upload.original_name == "схема.pdf" and upload.open().read() == PDF
        assert case.files.filter(field_name="decision_letter").count() == 1
        assert case.events.filter(kind=CaseEvent.Kind.FILE_VIEWED,
                                  actor_role="applicant").count() == 1
