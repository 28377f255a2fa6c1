"""One service, one place (issue 12): the online form, its workflow and automatic rules are
edited in the service page's "Online application" tab, through Wagtail's own page editor
(the django test client posts what the browser would), so they are drafted, previewed,
moderated, scheduled, published and reverted with the page; the citizen's address follows
the page's slug, Cyrillic included, and survives renames and moves. Real PostgreSQL."""

import datetime
import importlib
import json
import re
from urllib.parse import quote, unquote

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from wagtail.models import (
    GroupApprovalTask,
    GroupPagePermission,
    Page,
    Revision,
    WorkflowPage,
    WorkflowTask,
)
from wagtail.models import Workflow as PageWorkflow

from cms.models import ServiceIndexPage, ServicePage
from services.forms.blocks import stream_data_from_spec
from services.models import Case, OnlineService, Workflow

from .factories import NORTH, SubmittedCaseFactory, admin_in_english, service_page_data

pytestmark = pytest.mark.django_db

TITLE = "Разрешение на вырубку деревьев"
SLUG = "разрешение-на-вырубку-деревьев"  # what Wagtail makes of the title
SPEC = [{"type": "text", "name": "trees", "label": "Какие деревья", "max_length": 200},
        {"type": "yes_no", "name": "private_land", "label": "Участок в частной собственности?"}]
SPEC_2 = [*SPEC, {"type": "text", "name": "reason", "label": "Почему нужно вырубить",
                  "required": False}]
ANSWERS = {"applicant_name": "Иван Петров", "applicant_email": "ivan@example.org",
           "trees": "Две берёзы", "private_land": "yes"}


# --- what the page editor posts ------------------------------------------------------------
def page_data(title=TITLE, slug=None, spec=SPEC, **kwargs):
    """The service page editor's POST data (tests/factories.py service_page_data)."""
    return service_page_data(title, spec, slug=slug, **kwargs)


def body(response):
    return response.content.decode()


def in_builder(label, html):
    """Whether the admin's form builder holds a question `label` (its blocks' data is JSON in
    the page, non-ASCII escaped)."""
    return json.dumps(label)[1:-1] in html


@pytest.fixture
def editor(client, tenant_a):
    """The tenant's administrator (admin in English), logged in, and the service catalogue."""
    admin, index = admin_in_english(client, tenant_a)
    return {"client": client, "tenant": tenant_a, "index": index, "user": admin}


@pytest.fixture
def citizen():
    """Someone applying, in a browser of their own (not the logged-in editor's)."""
    return Client()


def add_service(editor, action="action-publish", **kwargs):
    response = editor["client"].post(
        f"/admin/pages/add/cms/servicepage/{editor['index'].pk}/",
        {**page_data(**kwargs), **({action: "1"} if action else {})}, **NORTH)
    assert response.status_code == 302, _errors(response)
    with tenant_context(editor["tenant"]):
        page = ServicePage.objects.get(title=kwargs.get("title", TITLE))
    connection.set_schema_to_public()
    return page


def edit(editor, page, action="action-publish", url=None, client=None, **kwargs):
    """Post the page editor for `page`, its channel and online form keeping their rows."""
    with tenant_context(editor["tenant"]):
        latest = ServicePage.objects.get(pk=page.pk).get_latest_revision_as_object()
        shown = list(latest.online_services.all())
        kwargs.setdefault("online_id", str(shown[0].pk or "") if shown else None)
        kwargs.setdefault("channel_id", str(latest.channels.all()[0].pk or ""))
        kwargs.setdefault("title", latest.title)
        kwargs.setdefault("slug", latest.slug)
    connection.set_schema_to_public()
    return (client or editor["client"]).post(
        url or f"/admin/pages/{page.pk}/edit/",
        {**page_data(**kwargs), **({action: "1"} if action else {})}, **NORTH)


def _errors(response):
    if response.context is None:
        return response.status_code
    form = response.context.get("form")
    return form.errors if form is not None else response.status_code


def apply_url(slug=SLUG):
    return f"/ru/apply/{quote(slug)}/"


def questions(client, slug=SLUG):
    response = client.get(apply_url(slug), **NORTH)
    assert response.status_code == 200, response.status_code
    return body(response)


def apply_as_citizen(client, slug=SLUG, answers=ANSWERS):
    """Fill the form, confirm, and return the case reference shown."""
    response = client.post(apply_url(slug), answers, **NORTH)
    assert response.status_code == 302, re.findall(r'<a href="#[^"]*">([^<]*)</a>',
                                                   body(response))
    check = body(client.get(response["Location"], **NORTH))
    token = re.search(r'name="draft" value="([0-9a-f-]+)"', check).group(1)
    done = client.post(response["Location"], {"draft": token}, **NORTH)
    assert done.status_code == 302
    return re.search(r"\b([A-Z]{2,5}-\d{4}-\d{6})\b",
                     body(client.get(done["Location"], **NORTH))).group(1)


# --- creating and publishing in one place --------------------------------------------------
def test_a_service_with_a_russian_title_is_made_in_one_place_and_citizens_apply(editor,
                                                                               citizen):
    page = add_service(editor)  # no slug typed: Wagtail makes one from the Russian title
    with tenant_context(editor["tenant"]):
        page = ServicePage.objects.get(pk=page.pk)
        assert page.live and page.slug == SLUG
        service = page.online_services.get()
        assert [v.number for v in service.versions.all()] == [1]
        assert [f["name"] for f in service.versions.get().spec] == ["trees", "private_land"]
        # The form is part of the page's revision (what revert and compare read).
        content = page.live_revision.content
        assert content["online_services"][0]["pk"] == service.pk
    connection.set_schema_to_public()

    # The page's "Apply online" link (a 500 before: NoReverseMatch on the Cyrillic slug).
    public = citizen.get(f"/ru/services/{quote(SLUG)}/", **NORTH)
    assert public.status_code == 200
    link = re.search(r'href="(/ru/apply/[^"]+)"[^>]*govuk-button--start', body(public))
    assert link and unquote(link.group(1)) == f"/ru/apply/{SLUG}/"
    assert "Какие деревья" in questions(citizen)
    reference = apply_as_citizen(citizen)
    with tenant_context(editor["tenant"]):
        case = Case.objects.get(reference=reference)
        assert case.service.page_id == page.pk and case.form_version.number == 1


def test_the_editor_opens_the_online_application_tab_filled_in(editor):
    page = add_service(editor)
    html = body(editor["client"].get(f"/admin/pages/{page.pk}/edit/", **NORTH))
    assert "Online application" in html
    assert 'name="online_services-TOTAL_FORMS"' in html
    assert in_builder("Какие деревья", html)
    assert 'name="apply_url"' in html


def test_a_draft_leaves_the_published_form_alone_and_publishing_makes_a_version(editor,
                                                                                 citizen):
    page = add_service(editor)
    first = apply_as_citizen(citizen)

    response = edit(editor, page, action=None, spec=SPEC_2)  # "Save draft"
    assert response.status_code == 302, _errors(response)
    assert "Почему нужно вырубить" not in questions(citizen)
    with tenant_context(editor["tenant"]):
        service = OnlineService.objects.get(page=page)
        assert service.versions.count() == 1
        assert len(service.spec) == 2
        draft = ServicePage.objects.get(pk=page.pk).get_latest_revision_as_object()
        assert len(draft.online_services.get().spec) == 3
    connection.set_schema_to_public()

    # The preview shows the draft's form (its questions); the live apply page does not.
    preview_url = f"/admin/pages/{page.pk}/edit/preview/"
    posted = editor["client"].post(preview_url, page_data(
        spec=SPEC_2, online_id=str(draft.online_services.get().pk or ""),
        channel_id=str(draft.channels.all()[0].pk or "")), **NORTH)
    assert posted.json()["is_valid"], posted.json()
    preview = body(editor["client"].get(preview_url, **NORTH))
    assert "data-online-form-preview" in preview and "Почему нужно вырубить" in preview

    assert edit(editor, page, spec=SPEC_2).status_code == 302  # "Publish"
    assert "Почему нужно вырубить" in questions(citizen)
    second = apply_as_citizen(citizen, answers={**ANSWERS, "reason": "Аварийные"})
    with tenant_context(editor["tenant"]):
        service.refresh_from_db()
        assert [v.number for v in service.versions.order_by("number")] == [1, 2]
        assert Case.objects.get(reference=first).form_version.number == 1
        assert Case.objects.get(reference=second).form_version.number == 2


def test_a_form_added_to_a_live_page_keeps_its_row_through_later_publishes(editor, citizen):
    """Wagtail keeps a live page's new child in revisions without an id; publishing them
    again and again must still update the one row that cases and drafts point to."""
    page = add_service(editor, spec=None)
    assert citizen.get(apply_url(), **NORTH).status_code == 404
    assert edit(editor, page, spec=SPEC).status_code == 302
    reference = apply_as_citizen(citizen)
    with tenant_context(editor["tenant"]):
        row = OnlineService.objects.get(page=page)
    connection.set_schema_to_public()
    for spec in (SPEC_2, SPEC):
        response = edit(editor, page, spec=spec)
        assert response.status_code == 302, _errors(response)
    with tenant_context(editor["tenant"]):
        assert list(OnlineService.objects.filter(page=page).values_list("pk", "accepting")) \
            == [(row.pk, True)]
        assert [v.number for v in row.versions.order_by("number")] == [1, 2, 3]
        assert Case.objects.get(reference=reference).service_id == row.pk


def test_reverting_to_an_earlier_revision_brings_its_form_back(editor, citizen):
    page = add_service(editor)
    with tenant_context(editor["tenant"]):
        first_revision = ServicePage.objects.get(pk=page.pk).live_revision_id
    connection.set_schema_to_public()
    assert edit(editor, page, spec=SPEC_2).status_code == 302
    assert "Почему нужно вырубить" in questions(citizen)

    revert_url = f"/admin/pages/{page.pk}/revisions/{first_revision}/revert/"
    shown = body(editor["client"].get(revert_url, **NORTH))  # the editor, filled from it
    assert in_builder("Какие деревья", shown) and not in_builder("Почему нужно вырубить", shown)
    response = edit(editor, page, url=revert_url, spec=SPEC)
    assert response.status_code == 302, _errors(response)
    assert "Почему нужно вырубить" not in questions(citizen)
    with tenant_context(editor["tenant"]):
        service = OnlineService.objects.get(page=page)
        latest = service.versions.order_by("-number").first()
        assert [f["name"] for f in latest.spec] == ["trees", "private_land"]


def test_a_scheduled_form_goes_live_when_its_page_does(editor, citizen):
    page = add_service(editor)
    later = timezone.localtime() + datetime.timedelta(days=1)
    response = edit(editor, page, spec=SPEC_2, go_live_at=later.strftime("%Y-%m-%d %H:%M"))
    assert response.status_code == 302, _errors(response)
    assert "Почему нужно вырубить" not in questions(citizen)
    with tenant_context(editor["tenant"]):
        scheduled = Revision.page_revisions.get(object_id=str(page.pk),
                                                approved_go_live_at__isnull=False)
        assert OnlineService.objects.get(page=page).versions.count() == 1
        # The time comes: Wagtail's scheduler publishes the revision, and its form with it.
        past = timezone.now() - datetime.timedelta(minutes=1)
        scheduled.content["go_live_at"] = past.isoformat()
        scheduled.approved_go_live_at = past
        scheduled.save(update_fields=["content", "approved_go_live_at"])
        call_command("publish_scheduled", verbosity=0)
        assert OnlineService.objects.get(page=page).versions.count() == 2
    connection.set_schema_to_public()
    assert "Почему нужно вырубить" in questions(citizen)


def test_a_moderator_publishes_a_form_an_editor_submitted(editor, citizen, django_user_model):
    page = add_service(editor)
    with tenant_context(editor["tenant"]):
        access = Permission.objects.get(codename="access_admin")
        writers = Group.objects.create(name="Авторы услуг")
        writers.permissions.add(access)
        moderators = Group.objects.create(name="Модераторы услуг")
        moderators.permissions.add(access)
        index = Page.objects.get(pk=editor["index"].pk)
        for group, codenames in ((writers, ["add_page", "change_page"]),
                                 (moderators, ["add_page", "change_page", "publish_page"])):
            for codename in codenames:
                GroupPagePermission.objects.create(group=group, page=index,
                                                   permission=Permission.objects.get(
                                                       codename=codename,
                                                       content_type__app_label="wagtailcore"))
        task = GroupApprovalTask.objects.create(name="Проверка услуги")
        task.groups.set([moderators])
        workflow = PageWorkflow.objects.create(name="Согласование услуг")
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
        WorkflowPage.objects.update_or_create(page=index, defaults={"workflow": workflow})
        writer = django_user_model.objects.create_user("writer", "writer@north.example", "x")
        writer.groups.add(writers)
        moderator = django_user_model.objects.create_user("moderator",
                                                          "moderator@north.example", "x")
        moderator.groups.add(moderators)
    connection.set_schema_to_public()

    as_writer, as_moderator = Client(), Client()
    with tenant_context(editor["tenant"]):
        as_writer.force_login(writer)
        as_moderator.force_login(moderator)
    connection.set_schema_to_public()
    response = edit(editor, page, action="action-submit", spec=SPEC_2, client=as_writer)
    assert response.status_code == 302, _errors(response)
    assert "Почему нужно вырубить" not in questions(citizen)  # waiting for the moderator
    with tenant_context(editor["tenant"]):
        state = ServicePage.objects.get(pk=page.pk).current_workflow_state
        assert state is not None and state.status == "in_progress"
        task_state = state.current_task_state
        assert OnlineService.objects.get(page=page).versions.count() == 1
    connection.set_schema_to_public()

    approved = as_moderator.post(
        f"/admin/pages/workflow/action/{page.pk}/approve/{task_state.pk}/", {"comment": ""},
        **NORTH)
    assert approved.status_code in (200, 302)
    assert "Почему нужно вырубить" in questions(citizen)
    with tenant_context(editor["tenant"]):
        assert OnlineService.objects.get(page=page).versions.count() == 2
        assert ServicePage.objects.get(pk=page.pk).current_workflow_state is None


# --- the address: any slug, renames, moves ------------------------------------------------
def test_renaming_the_page_moves_the_address_and_old_links_still_arrive(editor, citizen):
    page = add_service(editor)
    # An application under way at the old address.
    started = citizen.post(apply_url(), ANSWERS, **NORTH)
    assert started.status_code == 302

    renamed = "вырубка-деревьев"
    assert edit(editor, page, slug=renamed).status_code == 302
    public = body(citizen.get(f"/ru/services/{quote(renamed)}/", **NORTH))
    assert f'href="{apply_url(renamed)}"' in public  # no re-saving of the form needed
    assert "Какие деревья" in questions(citizen, renamed)

    # Old links, any step, reach the service; the applicant's draft is still theirs.
    for step in ("", "check/"):
        old = citizen.get(f"{apply_url()}{step}", **NORTH)
        assert old.status_code == 307 and unquote(old["Location"]) == \
            f"/ru/apply/{renamed}/{step}"
    check = citizen.get(f"{apply_url(renamed)}check/", **NORTH)
    assert check.status_code == 200 and "Две берёзы" in body(check)
    token = re.search(r'name="draft" value="([0-9a-f-]+)"', body(check)).group(1)
    sent = citizen.post(f"{apply_url()}check/", {"draft": token}, **NORTH, follow=True)
    assert sent.status_code == 200 and re.search(r"[A-Z]{2,5}-\d{4}-\d{6}", body(sent))


def test_moving_the_page_keeps_its_address(editor, citizen):
    page = add_service(editor)
    with tenant_context(editor["tenant"]):
        # A second catalogue elsewhere in the tree (e.g. a department's own services).
        home = ServiceIndexPage.objects.get(pk=editor["index"].pk).get_parent()
        other = home.add_child(instance=ServiceIndexPage(title="Услуги района", slug="rayon"))
    connection.set_schema_to_public()
    moved = editor["client"].post(f"/admin/pages/{page.pk}/move/{other.pk}/confirm/", **NORTH)
    assert moved.status_code == 302
    with tenant_context(editor["tenant"]):
        assert ServicePage.objects.get(pk=page.pk).get_parent().pk == other.pk
    connection.set_schema_to_public()
    public = body(citizen.get(f"/ru/rayon/{quote(SLUG)}/", **NORTH))
    assert f'href="{apply_url()}"' in public
    assert "Какие деревья" in questions(citizen)


def test_a_cyrillic_slug_made_in_code_works_and_odd_addresses_are_not_found(tenant_a, client):
    with tenant_context(tenant_a):
        index = ServiceIndexPage.objects.get(locale__language_code="ru")
        page = index.add_child(instance=ServicePage(
            title="Справка о составе семьи", summary="Справка.", who_can_apply="<p>Все.</p>",
            legal_basis="<p>Закон.</p>", processing_days=5))
        assert page.slug == "справка-о-составе-семьи"
        OnlineService.objects.create(page=page, form=stream_data_from_spec(SPEC))
    connection.set_schema_to_public()
    public = client.get(f"/ru/services/{quote(page.slug)}/", **NORTH)
    assert public.status_code == 200 and f'href="{apply_url(page.slug)}"' in body(public)
    assert "Какие деревья" in questions(client, page.slug)
    for odd in ("no-such-service", "a%20b", quote("справка-о-составе")):
        assert client.get(f"/ru/apply/{odd}/", **NORTH).status_code == 404, odd
    # A NUL byte is refused before routing, naming the problem (tests/test_bad_input.py).
    assert client.get("/ru/apply/%00/", **NORTH).status_code == 400


# --- what the editor is told -------------------------------------------------------------
def test_an_online_form_and_another_website_are_refused_together(editor):
    response = editor["client"].post(
        f"/admin/pages/add/cms/servicepage/{editor['index'].pk}/",
        {**page_data(apply_url="https://gosuslugi.example/tree"), "action-publish": "1"},
        **NORTH)
    assert response.status_code == 200
    assert "заявления подают здесь: очистите этот адрес" in str(response.context["form"].errors)
    with tenant_context(editor["tenant"]):
        assert not ServicePage.objects.filter(title=TITLE).exists()
    # Another website alone is fine: a service it handles.
    page = add_service(editor, spec=None, apply_url="https://gosuslugi.example/tree")
    with tenant_context(editor["tenant"]):
        assert not OnlineService.objects.filter(page=page).exists()


def test_two_services_in_one_language_never_share_an_address(editor):
    add_service(editor)
    with tenant_context(editor["tenant"]):
        home = ServiceIndexPage.objects.get(pk=editor["index"].pk).get_parent()
        other = home.add_child(instance=ServiceIndexPage(title="Услуги района", slug="rayon"))
    connection.set_schema_to_public()
    response = editor["client"].post(f"/admin/pages/add/cms/servicepage/{other.pk}/",
                                     {**page_data(), "action-publish": "1"}, **NORTH)
    assert response.status_code == 200
    assert "уже принимает заявления по этому адресу" in str(
        response.context["form"].errors["slug"])
    # Without an online form the same slug is fine: it has no apply address.
    response = editor["client"].post(f"/admin/pages/add/cms/servicepage/{other.pk}/",
                                     {**page_data(spec=None), "action-publish": "1"}, **NORTH)
    assert response.status_code == 302, _errors(response)


def test_a_form_with_applications_cannot_be_removed(editor, citizen):
    page = add_service(editor)
    apply_as_citizen(citizen)
    for action in (None, "action-publish"):
        response = edit(editor, page, action=action, delete_online=True)
        assert response.status_code == 200
        errors = " ".join(response.context["form"].non_field_errors())
        assert "has 1 application" in errors and "open for applications" in errors
    assert "Какие деревья" in questions(citizen)

    # Deleting the page is refused too, with the reason, not an error page.
    deleted = editor["client"].post(f"/admin/pages/{page.pk}/delete/", **NORTH, follow=True)
    assert deleted.status_code == 200 and "cannot be deleted" in body(deleted)
    in_bulk = editor["client"].post(f"/admin/bulk/wagtailcore/page/delete/?id={page.pk}",
                                    **NORTH, follow=True)
    assert in_bulk.status_code == 200 and "cannot be deleted" in body(in_bulk)
    with tenant_context(editor["tenant"]):
        assert ServicePage.objects.filter(pk=page.pk).exists()
    connection.set_schema_to_public()

    # Closing it to new applications is the way: published with the page.
    assert edit(editor, page, accepting=False).status_code == 302
    assert citizen.get(apply_url(), **NORTH).status_code == 503


def test_a_form_without_applications_is_removed_with_the_page_published(editor, citizen):
    page = add_service(editor)
    assert edit(editor, page, action=None, delete_online=True).status_code == 302
    assert "Какие деревья" in questions(citizen)  # only a draft so far
    assert edit(editor, page, delete_online=True).status_code == 302
    assert citizen.get(apply_url(), **NORTH).status_code == 404
    with tenant_context(editor["tenant"]):
        assert not OnlineService.objects.filter(page=page).exists()


def test_publishing_without_the_form_after_cases_arrived_closes_it(tenant_a):
    """A moderator approving (or the scheduler publishing) a draft made before the first
    application: the form those cases need is closed, not deleted, and nothing fails."""
    with tenant_context(tenant_a):
        index = ServiceIndexPage.objects.get(locale__language_code="ru")
        page = index.add_child(instance=ServicePage(
            title="Ордер на земляные работы", summary="Ордер.", who_can_apply="<p>Все.</p>",
            legal_basis="<p>Закон.</p>", processing_days=5))
        page.online_services = [OnlineService(form=stream_data_from_spec(SPEC))]
        page.save_revision().publish()
        page = ServicePage.objects.get(pk=page.pk)
        page.online_services = []
        revision = page.save_revision()
        service = OnlineService.objects.get(page=page)
        case = SubmittedCaseFactory(
            service=service, answers={"trees": "Клён", "private_land": "no"},
            applicant_name="Ann", applicant_email="ann@example.org")
        revision.publish()
        service.refresh_from_db()
        assert not service.accepting and Case.objects.get(pk=case.pk).service_id == service.pk


def test_a_workflow_a_draft_form_names_cannot_be_deleted(editor):
    page = add_service(editor)
    with tenant_context(editor["tenant"]):
        inspections = Workflow.objects.create(name="Выездная проверка",
                                              definition=Workflow.default().definition)
    connection.set_schema_to_public()
    assert edit(editor, page, action=None, **{
        "online_services-0-workflow": str(inspections.pk)}).status_code == 302  # a draft
    url = f"/admin/snippets/services/workflow/delete/{inspections.pk}/"
    refused = editor["client"].post(url, **NORTH, follow=True)
    assert "cannot be deleted" in body(refused) and TITLE in body(refused)
    with tenant_context(editor["tenant"]):
        assert Workflow.objects.filter(pk=inspections.pk).exists()
    connection.set_schema_to_public()
    assert editor["client"].get(f"/admin/pages/{page.pk}/edit/", **NORTH).status_code == 200


def test_the_online_services_menu_lists_pages_and_edits_nothing(editor):
    page = add_service(editor)
    listing = editor["client"].get("/admin/online-services/", **NORTH)
    assert listing.status_code == 200
    html = body(listing)
    assert TITLE in html and f'href="/admin/pages/{page.pk}/edit/"' in html
    assert editor["client"].get("/admin/snippets/services/onlineservice/",
                                **NORTH).status_code == 404
    # The "apply on behalf" permission is still offered in the group editor.
    group = body(editor["client"].get("/admin/groups/new/", **NORTH))
    assert "apply_on_behalf" in group or "on behalf of a citizen" in group


def test_demo_forms_are_published_with_their_pages(tenant_a):
    from demo.forms import populate

    with tenant_context(tenant_a):
        assert populate("ru") == 3
        page = ServicePage.objects.get(slug="building-permit", locale__language_code="ru")
        service = page.online_services.get()
        published = page.live_revision.content["online_services"]
        assert len(published) == 1 and published[0]["accepting"]
        page.get_latest_revision_as_object().save_revision().publish()
        assert page.online_services.get().pk == service.pk  # the same row, not a new one


def test_the_migration_clears_the_address_an_open_form_hid(tenant_a):
    migration = importlib.import_module(
        "services.migrations.0010_online_form_on_the_service_page")
    with tenant_context(tenant_a):
        pages = {slug: ServicePage.objects.get(slug=slug, locale__language_code="ru")
                 for slug in ("building-permit", "street-trading")}
        for slug, page in pages.items():
            page.apply_url = "https://old.example/apply"
            page.save_revision().publish()
            OnlineService.objects.create(page=page, form=stream_data_from_spec(SPEC),
                                         accepting=slug == "building-permit")
        migration.clear_unused_apply_urls(apps, None)
        opened, closed = (ServicePage.objects.get(pk=p.pk) for p in pages.values())
        assert opened.apply_url == "" and opened.latest_revision.content["apply_url"] == ""
        assert closed.apply_url == "https://old.example/apply"  # what citizens saw: kept


def test_rich_text_boxes_are_named_by_their_field_labels(editor):
    """Draftail's text box has no name of its own (axe aria-input-field-name): each is handed
    its field label's id (cms/widgets.py), and the label carries that id."""
    html = body(editor["client"].get(
        f"/admin/pages/add/cms/servicepage/{editor['index'].pk}/", **NORTH))
    for field in ("who_can_apply", "legal_basis"):
        assert f'id="id_{field}-label"' in html, field
        assert f"&quot;ariaLabelledBy&quot;: &quot;id_{field}-label&quot;" in html, field


def test_a_page_saved_with_an_address_taken_a_moment_earlier_is_a_conflict_not_a_500(editor):
    """Another editor saves a sibling with the same slug after this editor's form was checked
    and before the page is saved (what a double POST did in the browser test under load):
    Wagtail's second check refuses it; the editor gets a 409 saying what to do."""
    def pages_with_the_address():
        with tenant_context(editor["tenant"]):
            return list(Page.objects.filter(slug=SLUG).values_list("title", flat=True))

    taken = []

    def another_editor_saves_first(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not taken and '"wagtailcore_page"."slug" =' in sql and '"id" IS NULL' in sql:
            taken.append(True)  # the form's check has just passed: now the other editor saves
            index = Page.objects.get(pk=editor["index"].pk)
            index.add_child(instance=Page(title="Другая страница", slug=SLUG))
        return result

    with connection.execute_wrapper(another_editor_saves_first):
        response = editor["client"].post(
            f"/admin/pages/add/cms/servicepage/{editor['index'].pk}/",
            {**page_data(), "action-publish": "1"}, **NORTH)
    connection.set_schema_to_public()
    assert taken, "the race was not staged: Wagtail's slug check changed"
    assert response.status_code == 409
    assert "another page with the same address was saved" in body(response)  # in English,
    # the editor's admin language, though the site's is Russian
    assert pages_with_the_address() == ["Другая страница"]  # the first save, and only it
    connection.set_schema_to_public()


def test_the_same_form_posted_twice_takes_the_editor_to_the_page_it_saved(editor):
    """A browser posting the service form twice (the second post arriving while the first
    saves, as in the builders' browser test under load): one page, and the second post lands
    on its editor as the first did."""
    first = []

    def the_first_post_saves_meanwhile(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not first and '"wagtailcore_page"."slug" =' in sql and '"id" IS NULL' in sql:
            first.append(Page(title=TITLE, slug=SLUG, owner=editor["user"],
                              latest_revision_created_at=timezone.now()))
            Page.objects.get(pk=editor["index"].pk).add_child(instance=first[0])
        return result

    with connection.execute_wrapper(the_first_post_saves_meanwhile):
        response = editor["client"].post(
            f"/admin/pages/add/cms/servicepage/{editor['index'].pk}/",
            {**page_data(), "action-publish": "1"}, **NORTH)
    connection.set_schema_to_public()
    assert first, "the race was not staged: Wagtail's slug check changed"
    assert response.status_code == 302
    assert response["Location"] == f"/admin/pages/{first[0].pk}/edit/"
    with tenant_context(editor["tenant"]):
        assert Page.objects.filter(slug=SLUG).count() == 1
    connection.set_schema_to_public()
