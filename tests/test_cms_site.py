"""Tenant content sites as citizens and editors use them: every page type renders, search and
feedback stay inside the tenant, languages, moderation, scheduled publishing, admin isolation."""

import datetime
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.images import ImageFile
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image as PILImage
from wagtail.documents.models import Document
from wagtail.images.models import Image
from wagtail.models import Page

from cms.models import PageFeedback, ServiceIndexPage, ServicePage, StandardPage
from cms.tasks import publish_scheduled

from .factories import NORTH, SOUTH, launch

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("path", "expected"), [
    ("/ru/", ["Северная область", "Запись в детский сад", "Рождение ребёнка",
              "Изменение графика работы МФЦ", "Открыт новый детский сад"]),
    ("/ru/services/", ["Образование", "Зачисление в первый класс", "Справка о составе семьи"]),
    ("/ru/services/?life_event=birth", ["Регистрация рождения ребёнка", "Запись в детский сад"]),
    ("/ru/services/street-trading/", ["1500", "₽", "Госпошлина", "Кто может обратиться",
                                      "Паспорт", "210-ФЗ", "По телефону", "+7 800 100-00-00"]),
    ("/ru/services/building-permit/", ["Бесплатно", "5 рабочих дней"]),
    ("/ru/offices/", ["центральный офис", "ул. Ленина, 1"]),
    ("/ru/offices/mfc-centre/", ["Понедельник", "09:00–18:00", "Новогодние праздники",
                                 "Пандус", "Разрешение на строительство"]),
    ("/ru/news/", ["МФЦ работают по субботам", "Публичные слушания"]),
    ("/ru/news/mfc-saturday/", ["с 10 до 16"]),
    ("/ru/having-a-baby/", ["Зарегистрируйте рождение", "Оформите пособие"]),
    ("/ru/apply-online/", ["govuk-inset-text", "Госпошлина"]),
    ("/ru/contact/", ["Контакты", "Эта страница была полезной?"]),
    ("/ru/accessibility/", ["Заявление о доступности", "WCAG"]),
    ("/ru/privacy/", ["персональные данные"]),
])
def test_every_page_type_renders(client, session_tenants, path, expected):
    response = client.get(path, **NORTH)
    assert response.status_code == 200, path
    body = response.content.decode()
    for text in expected:
        assert text in body, (path, text)
    assert '<html lang="ru"' in body


def test_life_event_filter_excludes_other_services(client, session_tenants):
    body = client.get("/ru/services/?life_event=building", **NORTH).content.decode()
    assert "Разрешение на строительство" in body
    assert "Регистрация брака" not in body


def test_apply_online_button_only_when_the_service_takes_applications(client, tenant_a):
    before = client.get("/ru/services/building-permit/", **NORTH).content.decode()
    assert "govuk-button--start" not in before
    with tenant_context(tenant_a):
        page = ServicePage.objects.get(slug="building-permit")
        page.apply_url = "https://north.localhost/apply/building-permit/"
        page.save_revision().publish()
    body = client.get("/ru/services/building-permit/", **NORTH).content.decode()
    assert "govuk-button--start" in body and "/apply/building-permit/" in body
    assert "Подать заявление онлайн" in body


def test_search_finds_services_and_never_another_tenants_content(client, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        index = ServiceIndexPage.objects.get()
        index.add_child(instance=ServicePage(
            title="Выдача охотничьего билета", slug="hunting", summary="Только на севере",
            who_can_apply="<p>x</p>", legal_basis="<p>x</p>", processing_days=3))
    found = client.get("/ru/search/?q=охотничьего", **NORTH).content.decode()
    assert "1 результат<" in found and "/ru/services/hunting/" in found
    elsewhere = client.get("/ru/search/?q=охотничьего", **SOUTH).content.decode()
    assert "0 результатов" in elsewhere and "hunting" not in elsewhere
    south = client.get("/ru/search/?q=справка", **SOUTH).content.decode()
    assert "Справка о составе семьи" in south


@pytest.mark.parametrize(("host", "query", "expected"), [
    (NORTH, "справки", "Справка о составе семьи"),        # another case of the same word
    (NORTH, "строительства", "Разрешение на строительство"),
    ({"HTTP_HOST": "lakeside.localhost"}, "permits", "Building permit"),
])
def test_search_understands_word_forms(client, session_tenants, host, query, expected):
    if host["HTTP_HOST"] == "lakeside.localhost":
        from django_tenants.utils import tenant_context

        from demo.site import populate

        tenant = launch("Lakeside", slug="lakeside", language="en").tenant
        with tenant_context(tenant):
            populate("en")
        path = "/en/search/?q="
    else:
        path = "/ru/search/?q="
    body = client.get(path + query, **host).content.decode()
    assert expected in body, query


def test_empty_and_long_queries_are_harmless(client, session_tenants):
    assert client.get("/ru/search/", **NORTH).status_code == 200
    assert client.get("/ru/search/?q=" + "я" * 5000, **NORTH).status_code == 200


def test_feedback_is_stored_in_the_tenant_that_received_it(client, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        page = StandardPage.objects.get(slug="contact")
    response = client.post("/feedback/", {"page": page.pk, "useful": "no", "comment": "Нет адреса"},
                           **NORTH)
    assert response.status_code == 302
    assert response["Location"].endswith("/ru/contact/?feedback=thanks#feedback")
    thanks = client.get(response["Location"].split("#")[0], **NORTH).content.decode()
    assert "Спасибо за отзыв" in thanks
    with tenant_context(tenant_a):
        feedback = PageFeedback.objects.get()
        assert (feedback.page_id, feedback.useful) == (page.pk, False)
        assert feedback.comment == "Нет адреса"
    with tenant_context(tenant_b):
        assert PageFeedback.objects.count() == 0


@pytest.mark.parametrize("data", [{}, {"page": "abc", "useful": "yes"}, {"page": 999999,
                                                                       "useful": "yes"},
                                  {"page": 3, "useful": "maybe"}])
def test_bad_feedback_is_refused_with_a_page_not_an_error(client, session_tenants, data):
    response = client.post("/feedback/", data, **NORTH)
    assert response.status_code == 400
    assert "Не удалось сохранить отзыв" in response.content.decode()
    assert client.get("/feedback/", **NORTH).status_code == 405


def test_tenant_default_language_and_switcher(client, session_tenants):
    launch("Lakeside", slug="lakeside", language="en")
    host = {"HTTP_HOST": "lakeside.localhost"}
    assert client.get("/", **host)["Location"] == "/en/"
    body = client.get("/en/", **host).content.decode()
    assert '<html lang="en"' in body and "Lakeside" in body
    assert 'hreflang="ru"' in body and 'href="/ru/"' in body
    # A ru tenant opened in English: the interface follows the URL's language.
    english = client.get("/en/services/", **NORTH).content.decode()
    assert '<html lang="en"' in english and "Services" in english


def test_registers_live_only_in_the_public_schema(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('north.tenants_lifeevent'), "
                       "to_regclass('public.tenants_lifeevent')")
        in_tenant, in_public = cursor.fetchone()
    assert in_tenant is None and in_public is not None


def test_moderation_workflow_holds_changes_until_approved(tenant_a):
    with tenant_context(tenant_a):
        User = get_user_model()
        editor = User.objects.create_user("editor@north.example", password="x" * 12)
        editor.groups.add(Group.objects.get(name="Editors"))
        moderator = User.objects.get(email="admin@north.example")
        page = StandardPage.objects.get(slug="privacy")
        workflow = page.get_workflow()
        assert workflow is not None and workflow.name == "Moderators approval"

        page.title = "Политика конфиденциальности (новая)"
        revision = page.save_revision(user=editor)
        state = workflow.start(page, editor)
        assert StandardPage.objects.get(pk=page.pk).title == "Политика конфиденциальности"
        task_state = state.current_task_state
        task_state.task.specific.on_action(task_state, moderator, "approve")
        page.refresh_from_db()
        assert page.title == "Политика конфиденциальности (новая)"
        assert page.live_revision_id == revision.pk


def test_scheduled_publishing_runs_in_the_tenant(tenant_a):
    with tenant_context(tenant_a):
        page = StandardPage.objects.get(slug="accessibility")
        page.title = "Заявление о доступности"
        revision = page.save_revision()
        revision.approved_go_live_at = timezone.now() - datetime.timedelta(minutes=1)
        revision.save()
        publish_scheduled.apply()  # the task the beat fan-out sends to every tenant
        assert StandardPage.objects.get(pk=page.pk).title == "Заявление о доступности"


def _png(name):
    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 4), "red").save(buffer, "PNG")
    return ImageFile(buffer, name=name)


def test_editors_see_only_their_tenants_pages_images_documents_and_users(client, tenant_a,
                                                                       tenant_b):
    from django.core.files.base import ContentFile

    with tenant_context(tenant_b):
        image_b = Image.objects.create(title="South secret image", file=_png("south.png"))
        doc_b = Document.objects.create(title="South secret document",
                                        file=ContentFile(b"%PDF-1.4", name="south.pdf"))
        home_b = Page.objects.get(depth=2)
        # Files stored under the tenant's own prefix (public media on S3).
        assert image_b.file.storage.key_for(image_b.file.name).startswith(
            "tenants/south/media/original_images/")
    with tenant_context(tenant_a):
        client.force_login(get_user_model().objects.get(email="admin@north.example"))
    images = client.get("/admin/images/", **NORTH).content.decode()
    assert "South secret image" not in images
    assert client.get(f"/admin/images/{image_b.pk}/", **NORTH).status_code == 404
    assert "South secret document" not in client.get("/admin/documents/", **NORTH).content.decode()
    assert client.get(f"/admin/documents/edit/{doc_b.pk}/", **NORTH).status_code == 404
    users = client.get("/admin/users/", **NORTH).content.decode()
    assert "admin@north.example" in users and "admin@south.example" not in users
    explorer = client.get(f"/admin/pages/{home_b.pk}/", **NORTH).content.decode()
    assert "Южная область" not in explorer
    chooser = client.get("/admin/choose-page/", **NORTH).json()["html"]
    assert "Южная область" not in chooser and "Северная область" in chooser
