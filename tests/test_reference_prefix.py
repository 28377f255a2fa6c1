"""Case references are unique across the platform: each tenant's prefix is unique (a unique
constraint on the tenant rows), chosen at launch from the slug with a suffix letter when
taken, editable by the tenant's administrator until the first reference is given out, and
refused with a clear message when another tenant has it."""

import itertools
import threading
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import translation
from django_tenants.utils import tenant_context

from services.cases.references import change_reference_prefix, next_reference
from tenants import references
from tenants.launch import LaunchError
from tenants.models import Tenant

from .factories import launch

pytestmark = pytest.mark.django_db
SETTINGS_URL = "/admin/settings/services/servicessettings/"


def fresh_launch(name, **kwargs):
    """A launched tenant whose reference sequence was never used. A test's launch renames a
    spare schema, and the rollback gives it back to the pool, but sequences ignore
    rollbacks: a reference taken in an earlier test would count as given out here."""
    tenant = launch(name, **kwargs).tenant
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT setval('services_case_reference_seq', 1, false)")
    return tenant


def test_candidates_start_with_the_slug_and_add_its_next_letters():
    assert references.base_prefix("accord") == "ACC"
    assert references.base_prefix("a1") == "AX"
    got = list(itertools.islice(references.candidates("accent"), 703))  # the slug's own
    assert got[:4] == ["ACC", "ACCE", "ACCN", "ACCT"]
    assert len(got) == len(set(got)) and all(references.PREFIX_RE.match(p) for p in got)
    assert references.choose_prefix("accent", {"ACC", "ACCE"}) == "ACCN"


def test_when_every_extension_of_the_slug_is_taken_another_free_prefix_is_chosen():
    """703 municipalities whose slugs start alike take every extension of their first letters
    (seen by bench/fleet_scale.py at its 704th tenant): the next gets a free prefix starting
    with the same letter, never an error."""
    extensions = list(itertools.islice(references.candidates("novoe"), 703))
    assert extensions[0] == "NOV" and extensions[-1] == "NOVZZ"
    prefix = references.choose_prefix("novoe", set(extensions))
    assert prefix not in extensions and prefix.startswith("N")
    assert references.PREFIX_RE.match(prefix)
    # Short bases too: a slug of digits with one letter has the same room.
    digits = set(itertools.islice(references.candidates("f00141"), 703))
    assert references.choose_prefix("f00141", digits).startswith("F")


def test_two_tenants_whose_slugs_start_alike_get_different_references(session_tenants):
    accord = fresh_launch("Аккорд", slug="accord")
    accent = fresh_launch("Акцент", slug="accent")
    assert (accord.reference_prefix, accent.reference_prefix) == ("ACC", "ACCE")
    with tenant_context(accord):
        first = next_reference()
    with tenant_context(accent):
        second = next_reference()
    assert first.startswith("ACC-") and second.startswith("ACCE-")
    assert first.split("-")[2] == second.split("-")[2] == "000001"  # same number, other prefix


def test_launch_takes_a_given_prefix_or_says_it_is_taken(session_tenants):
    tenant = launch("Озёрск", slug="ozyorsk", reference_prefix="oz").tenant
    assert tenant.reference_prefix == "OZ"
    with translation.override("en"):  # the messages are translated for the tenant admin
        with pytest.raises(LaunchError, match="OZ is already used by another region"):
            launch("Озёры", slug="ozyory", reference_prefix="OZ")
        with pytest.raises(LaunchError, match="not valid: use 2 to 5 capital latin letters"):
            launch("Озёры", slug="ozyory", reference_prefix="O2")
    assert not Tenant.objects.filter(slug="ozyory").exists()


def test_the_database_refuses_a_shared_prefix(session_tenants):
    north, south = session_tenants["a"], session_tenants["b"]
    assert north.reference_prefix == "NOR" and south.reference_prefix == "SOU"
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.filter(pk=south.pk).update(reference_prefix="NOR")
    # Blank (the national operator's row) is not a prefix: any number of them.
    assert Tenant.objects.filter(kind="national", reference_prefix="").exists()


def test_a_launch_that_loses_the_race_for_a_prefix_takes_the_next(session_tenants,
                                                                    monkeypatch):
    """As if another launch took ACC after this one chose it: the insert hits the unique
    constraint, and the launch goes on with the next free candidate."""
    launch("Аккорд", slug="accord")
    monkeypatch.setattr(references, "taken_prefixes", lambda exclude_pk=None: set())
    assert launch("Акцент", slug="accent").tenant.reference_prefix == "ACCE"


def test_concurrent_launches_never_share_a_prefix(session_tenants):
    """Two transactions on two connections: the second chooses the same prefix before the
    first commits, waits on the unique index, then takes the next one."""
    inserted, results, errors = threading.Event(), {}, []
    slugs = {"a": f"acc{uuid.uuid4().hex[:6]}", "b": f"acc{uuid.uuid4().hex[:6]}"}

    def insert(key):
        try:
            with transaction.atomic():
                tenant = Tenant(schema_name=slugs[key].replace("-", "_"), slug=slugs[key],
                                name=key, kind=Tenant.Kind.REGION)
                if key == "b":
                    inserted.wait(30)
                references.save_with_prefix(tenant)
                results[key] = tenant.reference_prefix
                if key == "a":
                    inserted.set()
                    threading.Event().wait(1)  # b is now blocked behind this transaction
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            inserted.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=insert, args=(key,)) for key in ("a", "b")]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert results["a"] == "ACC" and results["b"] != "ACC"
        assert results["b"].startswith("ACC") and len(results["b"]) == 4
    finally:
        cleanup = threading.Thread(target=_delete_committed, args=(list(slugs.values()),))
        cleanup.start()
        cleanup.join(60)


def _delete_committed(slugs):
    try:
        Tenant.objects.filter(slug__in=slugs).delete()
    finally:
        connection.close()


def test_the_admin_changes_the_prefix_until_the_first_reference(session_tenants):
    tenant = fresh_launch("Берёзовка", slug="beryozovka")
    assert tenant.reference_prefix == "BER"
    with tenant_context(tenant), translation.override("en"):
        assert change_reference_prefix(" brz ") == "BRZ"
        with pytest.raises(ValidationError, match="SOU is already used by another region"):
            change_reference_prefix("SOU")
        assert next_reference().startswith("BRZ-")
        with pytest.raises(ValidationError, match="already been given out with the prefix BRZ"):
            change_reference_prefix("BRY")
        assert change_reference_prefix("BRZ") == "BRZ"  # no change: nothing to refuse
    tenant.refresh_from_db()
    assert tenant.reference_prefix == "BRZ"


def test_the_admin_settings_page_edits_the_platform_prefix(client, session_tenants):
    tenant = fresh_launch("Сосновка", slug="sosnovka", admin_email="admin@sosnovka.example")
    host = tenant.primary_domain
    with tenant_context(tenant):
        client.force_login(get_user_model().objects.get(email="admin@sosnovka.example"))
        page = client.get(SETTINGS_URL, HTTP_HOST=host, follow=True)
        assert page.status_code == 200
        url = page.redirect_chain[-1][0] if page.redirect_chain else SETTINGS_URL
        assert 'name="reference_prefix"' in page.content.decode()
        assert 'value="SOS"' in page.content.decode()

        taken = client.post(url, {"reference_prefix": "NOR"}, HTTP_HOST=host)
        assert taken.status_code == 200  # the form again, with the reason
        assert "NOR" in taken.content.decode() and "error" in taken.content.decode()
        saved = client.post(url, {"reference_prefix": "snv"}, HTTP_HOST=host)
        assert saved.status_code == 302
        next_reference()
        locked = client.get(url, HTTP_HOST=host).content.decode()
        assert 'value="SNV"' in locked and "disabled" in locked
    tenant.refresh_from_db()
    assert tenant.reference_prefix == "SNV"


def test_existing_tenants_keep_their_prefix_where_it_is_free(session_tenants):
    """The migration's assignment: the oldest keeps a shared prefix, the others get the
    next free one from their slug."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("tenants.migrations.0009_tenant_reference_prefix")
    newer = launch("Нордвик", slug="nordvik").tenant
    Tenant.objects.update(reference_prefix="")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.give_every_tenant_a_prefix(apps, editor)
    prefixes = dict(Tenant.objects.values_list("slug", "reference_prefix"))
    assert prefixes["north"] == "NOR" and prefixes["south"] == "SOU"
    assert prefixes["ryabinovka"] == "RYA" and prefixes[newer.slug] == "NORD"
    assert prefixes["public"] == ""  # the national operator
