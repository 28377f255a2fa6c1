"""Staff management in words (issue 12): an administrator invites a member of staff with
plain-language roles; the person exists in that tenant's schema only, in the chosen groups,
and gets an e-mail whose one-time link, on the tenant's own host, sets their password once."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.utils import translation
from django_tenants.utils import schema_context, tenant_context

from services.workflows.spec import STAFF_GROUP
from tenants import staff

from .factories import StaffFactory

pytestmark = pytest.mark.django_db
NORTH = {"HTTP_HOST": "north.localhost"}
INVITE = "/admin/staff/invite/"
OLGA = {"email": "Olga.Petrova@North.example", "first_name": "Ольга",
        "last_name": "Петрова", "roles": ["editor", "case_worker"]}


@pytest.fixture
def administrator(client, tenant_a):
    with tenant_context(tenant_a):
        client.force_login(get_user_model().objects.get(email="admin@north.example"))
    connection.set_schema_to_public()
    mail.outbox.clear()
    return client


def user_in(schema, email):
    with schema_context(schema):
        return get_user_model().objects.filter(email__iexact=email).first()


def test_the_form_offers_roles_in_words(administrator):
    page = administrator.get(INVITE, **NORTH)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Пригласить сотрудника" in html
    for role in ("Администратор", "Редактор", "Модератор", "Специалист по заявлениям"):
        assert role in html, role
    assert "Case workers" not in html and "Editors" not in html
    # And the Settings menu leads there.
    assert INVITE in administrator.get("/admin/", **NORTH).content.decode()


def test_an_invited_member_of_staff_sets_a_password_once(administrator, client, tenant_a,
                                                        tenant_b):
    response = administrator.post(INVITE, OLGA, **NORTH)
    assert response.status_code == 302, response.content.decode()
    assert response["Location"].endswith("/admin/users/")

    olga = user_in(tenant_a.schema_name, "olga.petrova@north.example")
    assert olga is not None and olga.username == "olga.petrova@north.example"
    assert (olga.first_name, olga.last_name) == ("Ольга", "Петрова")
    with schema_context(tenant_a.schema_name):
        assert set(olga.groups.values_list("name", flat=True)) == {"Editors", STAFF_GROUP}
        assert not olga.is_superuser and not olga.has_usable_password()
    # Only in this tenant's schema: not in the other tenant's, not in the public one.
    assert user_in(tenant_b.schema_name, "olga.petrova@north.example") is None
    assert user_in("public", "olga.petrova@north.example") is None

    [message] = mail.outbox
    assert message.to == ["olga.petrova@north.example"]
    assert "Северная область" in message.subject
    assert "Редактор" in message.body and "Специалист по заявлениям" in message.body
    link = re.search(r"https?://\S+", message.body).group(0)
    assert link.startswith("http://north.localhost/admin/password_reset/")

    client.logout()
    path = link.split("north.localhost", 1)[1]
    form_page = client.get(path, follow=True, **NORTH)
    assert form_page.context["validlink"] is True
    password = "rowan-berries-in-the-snow-42"
    done = client.post(form_page.redirect_chain[-1][0],
                       {"new_password1": password, "new_password2": password}, **NORTH)
    assert done.status_code == 302
    assert client.post("/admin/login/", {"username": "olga.petrova@north.example",
                                         "password": password}, **NORTH).status_code == 302
    assert client.get("/admin/cases/", **NORTH).status_code == 200  # a case worker now
    client.logout()
    assert client.get(path, follow=True, **NORTH).context["validlink"] is False
    # The other tenant's site knows nothing of her.
    assert client.post("/admin/login/", {"username": "olga.petrova@north.example",
                                         "password": password},
                       HTTP_HOST="south.localhost").status_code == 200


def test_an_administrator_is_invited_as_one(administrator, tenant_a):
    response = administrator.post(INVITE, dict(OLGA, roles=["administrator"]), **NORTH)
    assert response.status_code == 302
    assert user_in(tenant_a.schema_name, OLGA["email"]).is_superuser


@pytest.mark.parametrize(("changes", "expected"), [
    ({"email": "admin@north.example"}, "уже есть учётная запись"),
    ({"email": "not an address"}, "Введите адрес электронной почты, например name@example.ru"),
    ({"roles": []}, "Выберите хотя бы одну роль из списка"),
    ({"first_name": ""}, "Введите имя сотрудника"),
])
def test_refusals_say_what_to_do_and_create_nothing(administrator, tenant_a, changes, expected):
    response = administrator.post(INVITE, dict(OLGA, **changes), **NORTH)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Есть ошибки: приглашение не отправлено" in html and expected in html
    assert mail.outbox == []
    with schema_context(tenant_a.schema_name):
        assert get_user_model().objects.filter(first_name="Ольга").count() == 0


def test_an_unsent_invitation_leaves_no_account(administrator, tenant_a, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise ConnectionRefusedError("mail server refused the connection")

    monkeypatch.setattr(staff, "send_mail", refuse)
    response = administrator.post(INVITE, OLGA, **NORTH)
    assert response.status_code == 400
    assert "Не удалось отправить приглашение" in response.content.decode()
    assert user_in(tenant_a.schema_name, OLGA["email"]) is None


def test_only_those_who_may_add_users_can_invite(client, tenant_a):
    with tenant_context(tenant_a):
        worker = StaffFactory(username="clerk", groups=[STAFF_GROUP])
        client.force_login(worker)
    connection.set_schema_to_public()
    assert client.get(INVITE, **NORTH).status_code in (302, 403)
    assert client.post(INVITE, OLGA, **NORTH).status_code in (302, 403)
    assert INVITE not in client.get("/admin/", **NORTH).content.decode()
    assert user_in(tenant_a.schema_name, OLGA["email"]) is None


def test_stored_group_names_are_shown_in_words():
    with translation.override("ru"):
        assert staff.group_label(STAFF_GROUP) == "Специалисты по заявлениям"
        assert staff.group_label("Moderators") == "Модераторы"
        assert staff.group_label("Inspectors") == "Inspectors"  # an editor-made group
    with translation.override("en"):
        assert staff.group_label(STAFF_GROUP) == "Case workers"
    assert [role.code for role in staff.roles()][:1] == ["administrator"]
    assert {"editor", "moderator", "case_worker"} <= {role.code for role in staff.roles()}


# --- group names on Wagtail's own screens (decision 6) --------------------------------------
RUSSIAN_GROUPS = ("Специалисты по заявлениям", "Редакторы", "Модераторы")
ENGLISH_GROUPS = ("Case workers", "Editors", "Moderators")


def shown_groups(html):
    """The group names a screen shows as text (tags stripped), English and Russian."""
    text = re.sub(r"<[^>]+>", " ", html)
    return {name for name in RUSSIAN_GROUPS + ENGLISH_GROUPS
            if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)}


def test_groups_are_listed_and_chosen_by_their_translated_names(administrator, tenant_a):
    with tenant_context(tenant_a):
        olga = StaffFactory(username="olga", groups=["Editors", STAFF_GROUP])
        Group.objects.get_or_create(name="Инспекторы")
    connection.set_schema_to_public()
    screens = {
        "groups": "/admin/groups/",
        "users (group filter)": "/admin/users/",
        "user's roles tab": f"/admin/users/edit/{olga.pk}/",
        "new user's roles": "/admin/users/new/",
    }
    for screen, url in screens.items():
        response = administrator.get(url, **NORTH)
        assert response.status_code == 200, screen
        html = response.content.decode()
        assert shown_groups(html) == set(RUSSIAN_GROUPS), screen
    assert "Инспекторы" in administrator.get("/admin/groups/", **NORTH).content.decode()
    # The roles tab still ticks her groups: the stored names are unchanged.
    roles = administrator.get(screens["user's roles tab"], **NORTH).content.decode()
    ticked = re.findall(r'<input type="checkbox" name="groups" value="(\d+)"[^>]*checked', roles)
    with tenant_context(tenant_a):
        assert set(Group.objects.filter(pk__in=ticked).values_list("name", flat=True)) == {
            "Editors", STAFF_GROUP}


def test_a_role_s_group_is_titled_translated_and_its_name_kept(administrator, tenant_a):
    with tenant_context(tenant_a):
        group = Group.objects.get(name=STAFF_GROUP)
    connection.set_schema_to_public()
    url = f"/admin/groups/edit/{group.pk}/"
    html = administrator.get(url, **NORTH).content.decode()
    assert "Специалисты по заявлениям" in html
    assert re.search(r'<input type="text" name="name" value="Case workers"[^>]*disabled', html)
    assert "Роль «Специалист по заявлениям» находит свою группу по этому названию" in html
    # A renaming posted anyway (the field is disabled in the browser) is not applied.
    permissions = re.findall(r'<input type="checkbox" name="permissions" value="(\d+)"[^>]*checked',
                             html)
    response = administrator.post(url, {"name": "Заявления", "permissions": permissions,
                                        **_empty_permission_formsets(html)}, **NORTH)
    assert response.status_code == 302, (response.context["form"].errors, [
        (p.prefix, p.errors, getattr(p, "non_form_errors", list)()) for p in
        response.context.get("permission_panels", [])])
    with tenant_context(tenant_a):
        assert Group.objects.filter(pk=group.pk, name=STAFF_GROUP).exists()


def _empty_permission_formsets(html):
    """The management forms of the group editor's permission formsets, with no rows."""
    data = {}
    for prefix in set(re.findall(r'name="([\w-]+)-TOTAL_FORMS"', html)):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0",
                     f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    return data


def test_a_group_staff_made_can_be_renamed(administrator, tenant_a):
    with tenant_context(tenant_a):
        group = Group.objects.create(name="Инспекторы")
    connection.set_schema_to_public()
    html = administrator.get(f"/admin/groups/edit/{group.pk}/", **NORTH).content.decode()
    assert not re.search(r'<input type="text" name="name"[^>]*disabled', html)


def test_english_readers_see_the_english_names(client, tenant_a):
    with tenant_context(tenant_a):
        reader = StaffFactory(username="reader", is_superuser=True, is_staff=True,
                              admin_language="en")
        client.force_login(reader)
    connection.set_schema_to_public()
    html = client.get("/admin/groups/", **NORTH).content.decode()
    assert shown_groups(html) == set(ENGLISH_GROUPS)
