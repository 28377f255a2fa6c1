"""Launching a tenant: success, every refused input, and all-or-nothing on failure."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from django_tenants.utils import schema_context, schema_exists
from wagtail.models import Page, ReferenceIndex, Revision, Site
from wagtail.search.models import IndexEntry

from cms.models import BrandingSettings
from cms.provisioning import PREPARED_HOSTNAME, prepared_site_is_current
from tenants.launch import LaunchError, spares, template
from tenants.models import Domain, SpareSchema, Tenant
from tenants.signals import tenant_launched

from .factories import launch

pytestmark = pytest.mark.django_db

QUERIES_WITH_A_SPARE = 50  # see test_launch_with_a_spare_ready_takes_few_queries


def test_launch_creates_a_serving_site(client):
    result = launch("Озёрный край", slug="ozerny", admin_email="Boss@Ozerny.example")
    tenant = result.tenant
    assert tenant.status == Tenant.Status.ACTIVE
    assert tenant.schema_name == "ozerny"
    assert result.domain == "ozerny.localhost"
    assert schema_exists("ozerny")

    response = client.get("/", HTTP_HOST="ozerny.localhost")
    assert response.status_code == 302 and response["Location"] == "/ru/"
    response = client.get("/ru/", HTTP_HOST="ozerny.localhost")
    assert response.status_code == 200
    assert "Озёрный край" in response.content.decode()
    for slug in ("services", "news", "offices", "contact", "accessibility", "privacy"):
        assert client.get(f"/ru/{slug}/", HTTP_HOST="ozerny.localhost").status_code == 200

    with schema_context("ozerny"):
        admin = get_user_model().objects.get()
        assert admin.email == "boss@ozerny.example"
        assert admin.is_superuser and not admin.has_usable_password()
        assert Site.objects.get().hostname == "ozerny.localhost"


def test_one_time_link_sets_the_password_once(client):
    result = launch("Каменск", slug="kamensk", admin_email="admin@kamensk.example")
    path = result.set_password_url.split("kamensk.localhost", 1)[1]
    host = {"HTTP_HOST": "kamensk.localhost"}
    form_page = client.get(path, follow=True, **host)
    assert form_page.status_code == 200
    assert form_page.context["validlink"] is True
    set_url = form_page.redirect_chain[-1][0]
    password = "correct-horse-battery-staple-42"
    done = client.post(set_url, {"new_password1": password, "new_password2": password}, **host)
    assert done.status_code == 302
    assert client.post("/admin/login/", {"username": "admin@kamensk.example",
                                         "password": password}, **host).status_code == 302
    assert client.get("/admin/", **host).status_code == 200
    client.logout()
    # The link is spent: the token no longer validates once the password has changed.
    again = client.get(path, follow=True, **host)
    assert again.context["validlink"] is False


def test_municipality_belongs_to_its_region(session_tenants):
    result = launch("Зареченск", kind="municipality", parent="north")
    assert result.tenant.parent == session_tenants["a"]
    assert result.tenant.slug == "zarechensk"  # transliterated from the name


def test_launch_uses_a_spare_and_the_snapshot_when_none_is_left():
    assert SpareSchema.objects.count() >= 1
    first = launch("Первый", slug="first")
    assert first.method == "spare schema"
    assert not first.template_refreshed
    SpareSchema.objects.all().delete()  # rolled back with the test
    second = launch("Второй", slug="second")
    assert second.method == "template"
    with schema_context("second"):
        assert Page.objects.filter(depth=2).count() == 1
        assert Page.objects.filter(depth=3).count() == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slug": "north"}, "already taken"),
        ({"slug": "admin"}, "reserved"),
        ({"slug": "pg-catalog"}, "reserved"),
        ({"slug": "dgbox-template"}, "reserved"),
        ({"slug": "1st-town"}, "not valid"),
        ({"slug": "город"}, "not valid"),
        ({"slug": "my_town"}, "not valid"),
        ({"slug": "a--b"}, "not valid"),
        ({"slug": "x" * 64}, "not valid"),
        ({"domain": "north.localhost"}, "already serves"),
        ({"domain": "bad domain!"}, "not a valid host name"),
        ({"kind": "municipality", "parent": "atlantis"}, "does not exist"),
        ({"kind": "municipality", "parent": "ryabinovka"}, "must belong to a region"),
        ({"kind": "municipality"}, "needs --parent"),
        ({"parent": "north"}, "has no parent"),
        ({"kind": "city"}, "unknown"),
        ({"admin_email": "not-an-email"}, "not a valid address"),
        ({"language": "fr"}, "not offered"),
        ({"time_zone": "Mars/Olympus"}, "unknown"),
        ({"name": "   "}, "Name is required"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(session_tenants, kwargs, message):
    before = (Tenant.objects.count(), Domain.objects.count(), _schemas())
    args = {"name": "Новый город", "kind": "region", "slug": "novy", **kwargs}
    name, kind = args.pop("name"), args.pop("kind")
    with pytest.raises(LaunchError) as excinfo:
        launch(name, kind=kind, **args)
    assert any(message in m for m in excinfo.value.messages), excinfo.value.messages
    assert (Tenant.objects.count(), Domain.objects.count(), _schemas()) == before


def test_all_problems_are_reported_at_once():
    with pytest.raises(LaunchError) as excinfo:
        launch("", kind="city", admin_email="nope", language="xx")
    assert len(excinfo.value.messages) >= 4


@pytest.mark.parametrize("use_spare", [True, False])
def test_failure_half_way_leaves_nothing_behind(use_spare):
    if not use_spare:
        SpareSchema.objects.all().delete()
    spares_before = set(SpareSchema.objects.values_list("schema_name", flat=True))
    before = (Tenant.objects.count(), Domain.objects.count(), _schemas())

    def explode(**_kwargs):
        # Runs after the schema exists and the site is being built: the worst moment.
        assert schema_exists("halfway")
        raise RuntimeError("injected failure")

    tenant_launched.connect(explode, dispatch_uid="test-explode")
    try:
        with pytest.raises(RuntimeError, match="injected failure"):
            launch("Полпути", slug="halfway")
    finally:
        tenant_launched.disconnect(dispatch_uid="test-explode")

    connection.set_schema_to_public()
    assert not schema_exists("halfway")
    assert not Tenant.objects.filter(slug="halfway").exists()
    assert not Domain.objects.filter(domain="halfway.localhost").exists()
    assert (Tenant.objects.count(), Domain.objects.count(), _schemas()) == before
    # A spare claimed by the failed launch is back in the pool, under its own name.
    assert set(SpareSchema.objects.values_list("schema_name", flat=True)) == spares_before
    assert all(schema_exists(name) for name in spares_before)


def test_failure_in_schema_ddl_leaves_nothing_behind(monkeypatch):
    SpareSchema.objects.all().delete()
    before = (Tenant.objects.count(), Domain.objects.count(), _schemas())
    real = template.render_for_schema
    monkeypatch.setattr(template, "render_for_schema",
                        lambda sql, name: real(sql, name) + ";\nSELECT 1/0")
    with pytest.raises(Exception, match="division by zero"):
        launch("Ошибка", slug="ddl-failure")
    connection.set_schema_to_public()
    assert (Tenant.objects.count(), Domain.objects.count(), _schemas()) == before


def test_stale_template_is_migrated_before_launch(monkeypatch):
    monkeypatch.setattr(template, "migrations_fingerprint", lambda: "code-with-new-migrations")
    assert template.current_snapshot_sql() is None
    result = launch("Новая версия", slug="newcode")
    assert result.template_refreshed
    assert "template" in result.steps
    assert template.current_snapshot_sql() is not None
    assert SpareSchema.objects.filter(fingerprint="code-with-new-migrations").exists()
    template._snapshot_cache.clear()


def test_template_carries_no_users_or_sessions_and_a_prepared_site():
    with connection.cursor() as cursor:
        for table in template.PRIVATE_TABLES:
            cursor.execute(f"SELECT count(*) FROM {template.TEMPLATE_SCHEMA}.{table}")
            assert cursor.fetchone()[0] == 0, table
        # The site every tenant starts with, under stand-in values a launch replaces.
        cursor.execute(f"SELECT hostname FROM {template.TEMPLATE_SCHEMA}.wagtailcore_site")
        assert cursor.fetchall() == [(PREPARED_HOSTNAME,)]
        cursor.execute(f"SELECT depth, count(*) FROM {template.TEMPLATE_SCHEMA}.wagtailcore_page "
                       "GROUP BY depth ORDER BY depth")
        assert cursor.fetchall() == [(1, 1), (2, 1), (3, 6)]


def test_launch_with_a_spare_ready_takes_few_queries(django_assert_num_queries):
    launch("Разогрев", slug="warmup")  # first use of caches (content types, locales)
    assert SpareSchema.objects.exists()
    # Was 232 when the site was built page by page at launch; this pins the prepared path
    # (validation 6, registration 6, spare 3, site 27, administrator and audit 6, commit 2).
    with django_assert_num_queries(QUERIES_WITH_A_SPARE):
        result = launch("Озёрный край", slug="ozerny")
    assert result.method == "spare schema"


@pytest.mark.parametrize("language", ["ru", "en"])
def test_prepared_site_is_the_tenants_own(client, language):
    """Titles, language, host, search index, reference index and tree of a launched site are
    what building it page by page gave."""
    launch("Заречье", slug="zarechye", language=language)
    launch("Заозёрье", slug="zaozerye", language=language)
    with schema_context("zarechye"):
        site = Site.objects.get()
        assert (site.hostname, site.site_name) == ("zarechye.localhost", "Заречье")
        assert BrandingSettings.objects.get(site=site).site_name == "Заречье"
        home = site.root_page.specific
        assert (home.title, home.draft_title, home.locale.language_code) == (
            "Заречье", "Заречье", language)
        with override(language):
            assert "Заречье" in home.intro and home.intro.startswith(
                _("Official website of %(name)s: services, news and offices.")
                % {"name": "Заречье"})
            expected = {"services": _("Services"), "news": _("News"), "offices": _("Offices"),
                        "contact": _("Contact us"), "privacy": _("Privacy notice"),
                        "accessibility": _("Accessibility statement")}
            privacy_summary = _("What personal data we process, why, and your rights.")
        children = {page.slug: page for page in home.get_children().specific()}
        assert {slug: page.title for slug, page in children.items()} == expected
        assert children["privacy"].summary == privacy_summary
        assert {page.locale.language_code for page in children.values()} == {language}
        assert Page.find_problems() == ([], [], [], [], [])  # treebeard paths and counts
        assert {page.url_path for page in children.values()} == {
            f"/home/{slug}/" for slug in expected}
        assert not Revision.objects.exists()  # as add_child left them: live, no revisions
        found = list(Page.objects.live().search("Заречье"))
        assert [page.pk for page in found] == [home.pk]
        assert children["privacy"].pk in {page.pk for page in Page.objects.search(
            expected["privacy"])}
        indexed = set(IndexEntry.objects.values_list("object_id", flat=True))
        assert indexed >= {str(page.pk) for page in [home, *children.values()]}
        # The reference index is what Wagtail computes for these pages now.
        fields = ("content_type", "object_id", "to_content_type", "to_object_id", "model_path")
        before = set(ReferenceIndex.objects.values_list(*fields))
        for page in [home, *children.values()]:
            ReferenceIndex.create_or_update_for_object(page)
        assert set(ReferenceIndex.objects.values_list(*fields)) == before
        keys = set(Page.objects.filter(depth__gt=1).values_list("translation_key", flat=True))
    with schema_context("zaozerye"):
        other = set(Page.objects.filter(depth__gt=1).values_list("translation_key", flat=True))
    assert len(keys) == 7 and not keys & other  # each tenant's pages have keys of their own
    response = client.get(f"/{language}/privacy/", HTTP_HOST="zarechye.localhost")
    assert response.status_code == 200
    assert "Заречье" in response.content.decode()


def test_spares_match_the_running_code():
    fingerprint = template.migrations_fingerprint()
    assert SpareSchema.objects.exclude(fingerprint=fingerprint).count() == 0
    SpareSchema.objects.all().delete()
    assert spares.fill_pool(2) == 2
    assert spares.fill_pool(2) == 0


def test_stale_spares_are_migrated_in_place_or_dropped_when_that_fails():
    # Two spares of "another release" (their fingerprint): a migration that works keeps the
    # first one, under its own name, for the running code; one that fails has the second
    # dropped, and the pool is filled again from the snapshot.
    fingerprint = template.migrations_fingerprint()
    spares.fill_pool(2)
    kept, broken = SpareSchema.objects.order_by("pk").values_list("schema_name", flat=True)[:2]
    SpareSchema.objects.update(fingerprint="an-older-release")

    def migrate():
        if connection.schema_name == broken:
            raise RuntimeError("this spare's migration fails")

    assert spares.upgrade_stale(migrate) == 1
    assert SpareSchema.objects.get(schema_name=kept).fingerprint == fingerprint
    assert SpareSchema.objects.get(schema_name=broken).fingerprint == spares.UPGRADING
    assert spares.drop_stale() == 1 and not schema_exists(broken)
    assert spares.fill_pool(2) == 1
    assert set(SpareSchema.objects.values_list("fingerprint", flat=True)) == {fingerprint}


def test_a_stale_spare_keeps_its_prepared_site_when_current_and_rebuilds_it_when_not():
    # A rollout migrates the spares of the previous release in place and scrubs them as the
    # template is; a spare whose prepared site is what this release would build keeps it
    # (same page ids, 16 queries instead of some 460), one whose site is not (a text this
    # release changed, a page a migration added) has it built again.
    spares.fill_pool(2)
    current, changed = SpareSchema.objects.order_by("pk").values_list("schema_name", flat=True)[:2]
    with schema_context(current):
        kept_ids = sorted(Page.objects.filter(depth__gt=1).values_list("pk", flat=True))
        assert prepared_site_is_current()
    with schema_context(changed):
        Page.objects.filter(slug="privacy").update(title="Старый заголовок")
        assert not prepared_site_is_current()
        old_ids = sorted(Page.objects.filter(depth__gt=1).values_list("pk", flat=True))
    SpareSchema.objects.update(fingerprint="an-older-release")
    seen: dict[str, int] = {}

    def migrate():  # the rollout's engine, with nothing to apply here
        seen[connection.schema_name] = 0

    with CaptureQueriesContext(connection) as queries:
        assert spares.upgrade_stale(migrate) == 2
    assert set(seen) == {current, changed}
    # 500 here: the current spare's scrub is some 16 queries (the check's 7 reads, emptying
    # the private tables), the rebuilt one's some 460, as each spare's was before (about 950).
    assert len(queries) <= 520
    with schema_context(current):
        assert sorted(Page.objects.filter(depth__gt=1).values_list("pk", flat=True)) == kept_ids
    with schema_context(changed):
        assert prepared_site_is_current()
        new_ids = sorted(Page.objects.filter(depth__gt=1).values_list("pk", flat=True))
        assert not set(new_ids) & set(old_ids)
        assert Site.objects.get().hostname == PREPARED_HOSTNAME
    # A page a migration added beside the home page is not part of a current site either.
    with schema_context(current):
        root = Page.get_first_root_node()
        root.add_child(instance=Page(title="Welcome", slug="welcome"))
        assert not prepared_site_is_current()
        template.scrub(current)
        assert prepared_site_is_current()
        assert not Page.objects.filter(slug="welcome").exists()


def test_pool_grows_with_the_launches_of_the_last_hour():
    with override_settings(DGBOX_SPARE_SCHEMAS=1, DGBOX_SPARE_SCHEMAS_MAX=500):
        before = Tenant.objects.filter(created_at__gte=timezone.now() - timedelta(hours=1)).count()
        first = launch("Первый", slug="first").tenant
        launch("Второй", slug="second")
        assert spares.pool_size() == max(1, before + 2)
        with override_settings(DGBOX_SPARE_SCHEMAS_MAX=before + 1):
            assert spares.pool_size() == max(1, before + 1)  # never past the ceiling
        Tenant.objects.filter(pk=first.pk).update(
            created_at=timezone.now() - timedelta(hours=2))
        assert spares.pool_size() == max(1, before + 1)  # launches older than an hour
    with override_settings(DGBOX_SPARE_SCHEMAS=0, DGBOX_SPARE_SCHEMAS_MAX=500):
        assert spares.pool_size() == 0  # switched off


def _schemas():
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]
