"""Staff roles in each tenant (issue 13): the four groups exist in every launched tenant and
carry exactly the permissions docs/roles.md lists, no more, no less; and the console's
roles: regional administrators added from the CLI, recognised by one small function."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context
from wagtail.models import GroupCollectionPermission, GroupPagePermission

from tenants import access
from tenants.models import RegionalAdministrator

from .factories import console_account, launch

pytestmark = pytest.mark.django_db
DOC = Path(__file__).resolve().parent.parent / "docs" / "roles.md"
GROUPS = ["Administrators", "Editors", "Moderators", "Case workers"]


def documented_matrix():
    """{group: set of permission keys} from the matrix table of docs/roles.md."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("### The matrix", 1)[1]
    header = next(line for line in table.splitlines() if line.startswith("| Permission"))
    groups = [cell.strip() for cell in header.strip("|").split("|")][1:]
    matrix = {group: set() for group in groups}
    for line in table.splitlines():
        match = re.match(r"\| `([^`]+)` \|(.*)\|$", line)
        if match:
            cells = [cell.strip() for cell in match.group(2).split("|")]
            for group, cell in zip(groups, cells, strict=True):
                assert cell in ("✓", "–"), line
                if cell == "✓":
                    matrix[group].add(match.group(1))
    return matrix


def real_matrix():
    """{group: set of permission keys} as the current schema's groups hold them."""
    found = {}
    for group in Group.objects.filter(name__in=GROUPS):
        keys = {f"{p.content_type.app_label}.{p.codename}"
                for p in group.permissions.select_related("content_type")}
        keys |= {f"page:{gp.permission.codename}"
                 for gp in GroupPagePermission.objects.filter(group=group, page__depth=1)
                 .select_related("permission")}
        keys |= {f"collection:{gc.permission.content_type.app_label}.{gc.permission.codename}"
                 for gc in GroupCollectionPermission.objects.filter(
                     group=group, collection__depth=1)
                 .select_related("permission__content_type")}
        found[group.name] = keys
    return found


def test_the_documented_matrix_names_the_four_groups():
    matrix = documented_matrix()
    assert list(matrix) == GROUPS
    assert all(matrix.values())


@pytest.mark.parametrize("slug", ["north", "ryabinovka"])
def test_every_launched_tenant_has_the_groups_of_the_matrix(session_tenants, slug):
    with schema_context(slug):
        assert real_matrix() == documented_matrix()


def test_a_tenant_launched_now_has_them_too(session_tenants):
    tenant = launch("Лесное", kind="municipality", parent="south", slug="lesnoe").tenant
    with schema_context(tenant.schema_name):
        assert real_matrix() == documented_matrix()
        # Only what the rows say: a page permission anywhere else than the root is none.
        assert not GroupPagePermission.objects.exclude(page__depth=1).filter(
            group__name__in=GROUPS).exists()


def test_what_a_role_may_do(session_tenants):
    with schema_context("north"):
        User = get_user_model()
        case_worker = User.objects.create_user("cw", "cw@north.example", "x")
        case_worker.groups.add(Group.objects.get(name="Case workers"))
        editor = User.objects.create_user("ed", "ed@north.example", "x")
        editor.groups.add(Group.objects.get(name="Editors"))
        assert case_worker.has_perm("services.view_case")
        assert not case_worker.has_perm("services.change_onlineservice")
        assert not editor.has_perm("services.view_case")
        assert editor.has_perm("wagtailadmin.access_admin")


# --- Console roles ------------------------------------------------------------------------------


def test_regional_administrator_from_the_cli(session_tenants):
    out = StringIO()
    call_command("operator", "add", "Anna@Gov.example", "--region", "north", stdout=out)
    assert "regional administrator anna@gov.example of north" in out.getvalue()
    assert "/operator/password/" in out.getvalue()
    user = get_user_model().objects.get(email="anna@gov.example")
    assert RegionalAdministrator.objects.get(user=user).region.slug == "north"
    assert access.is_regional_administrator(user) and not access.is_operator(user)
    assert set(access.tenants_in_scope(user).values_list("slug", flat=True)) == {
        "north", "ryabinovka"}

    listing = StringIO()
    call_command("operator", "list", stdout=listing)
    assert "regional administrator of north" in listing.getvalue()

    call_command("operator", "deactivate", "anna@gov.example", stdout=StringIO())
    user.refresh_from_db()
    assert not access.is_regional_administrator(user)
    assert not access.tenants_in_scope(user).exists()


def test_only_a_region_can_be_given(session_tenants):
    with pytest.raises(CommandError, match="No region 'ryabinovka'"):
        call_command("operator", "add", "b@gov.example", "--region", "ryabinovka",
                     stdout=StringIO())
    assert not get_user_model().objects.filter(email="b@gov.example").exists()


def test_an_operator_is_not_a_regional_administrator(session_tenants):
    operator = console_account("op")
    assert access.is_operator(operator) and not access.is_regional_administrator(operator)
    assert access.tenants_in_scope(operator).filter(slug="south").exists()
