"""The rollout's health check against tenants broken on purpose, one kind of breakage each: a
missing table, a missing column (a migration recorded as applied whose change is not there), a
migration left pending, a schema gone from under its tenant row (names resolve in `public`),
a table that landed in `public` instead of the tenant's schema. Each is found and named, and a
healthy tenant passes.

Every breakage is DDL inside the test's transaction, rolled back afterwards with the tenant.
"""

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context
from wagtail.models import Site

from cms.models import HomePage, ServiceIndexPage
from services.cases.models import Case
from tenants.rollout.health import HealthCheckFailed, check_schema, run_health_check

from .factories import launch

CHECKS = ("search path", "schema", "migrations", "home page", "service page")


@pytest.fixture
def tenant(db):
    tenant = launch("Проверка здоровья", slug="health-check").tenant
    connection.set_schema_to_public()
    return tenant


def check(tenant):
    connection.set_tenant(tenant)
    try:
        return run_health_check(tenant, tenant.schema_name, pages=True)
    finally:
        connection.set_schema_to_public()


def failures(tenant) -> dict:
    with pytest.raises(HealthCheckFailed) as info:
        check(tenant)
    return {name: result for name, result in info.value.results.items() if result != "ok"}


def execute(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)


def test_a_healthy_tenant_passes_every_check(tenant):
    results = check(tenant)
    assert {name: results[name] for name in CHECKS} == dict.fromkeys(CHECKS, "ok")


def test_the_schema_checks_take_three_queries_whatever_the_number_of_models(tenant):
    # The search path, one catalog query (which also says whether the migrations table is
    # there), the migrations table's rows: not one statement per model, as the
    # `SELECT ... LIMIT 0` probe it replaced was, nor Django's listing of every table.
    connection.set_tenant(tenant)
    with CaptureQueriesContext(connection) as queries:
        results = check_schema(tenant.schema_name)
    connection.set_schema_to_public()
    assert results == {"migrations": "ok", "search path": "ok", "schema": "ok"}
    statements = [q["sql"] for q in queries.captured_queries
                  if not q["sql"].startswith(("SET ", "SHOW "))]  # django-tenants' search_path
    assert len(statements) == 3, statements


def test_a_missing_table_is_named(tenant):
    execute(f"DROP TABLE {tenant.schema_name}.{Case._meta.db_table} CASCADE")
    found = failures(tenant)
    assert set(found) == {"schema"}  # the site still renders: only the schema check sees it
    assert found["schema"] == f"missing tables: {Case._meta.db_table}"


def test_a_migration_recorded_but_not_applied_shows_as_a_missing_column(tenant):
    column = Case._meta.get_field("applicant_phone").column
    execute(f"ALTER TABLE {tenant.schema_name}.{Case._meta.db_table} DROP COLUMN {column}")
    found = failures(tenant)
    assert found == {"schema": f"missing columns: {Case._meta.db_table}.{column}"}


def test_a_migration_left_pending_is_named(tenant):
    app = Case._meta.app_label
    connection.set_tenant(tenant)
    last = (MigrationRecorder.Migration.objects.filter(app=app).order_by("-name")
            .values_list("name", flat=True).first())
    assert MigrationRecorder.Migration.objects.filter(app=app, name=last).delete()[0] == 1
    connection.set_schema_to_public()
    found = failures(tenant)
    assert found == {"migrations": f"still pending: {app}.{last}"}


def test_a_schema_gone_from_under_its_tenant_is_caught_by_the_search_path(tenant):
    # The row still names the schema; PostgreSQL skips a missing schema in search_path and
    # resolves every name in public instead.
    execute(f"ALTER SCHEMA {tenant.schema_name} RENAME TO {tenant.schema_name}_moved")
    found = failures(tenant)
    assert found["search path"] == f"names resolve in public, not in {tenant.schema_name}"
    assert found["schema"].startswith("missing tables: ")


def test_a_migrations_table_gone_from_the_schema_is_named_not_read_from_public(tenant):
    # Through the search path the recorder would read public's table, whose rows are the
    # public schema's migrations.
    execute(f"DROP TABLE {tenant.schema_name}.django_migrations")
    found = failures(tenant)
    assert found == {"migrations": f"no django_migrations table in {tenant.schema_name}"}


def test_a_table_in_public_instead_of_the_tenants_schema_is_missing(tenant):
    # Through the search path (tenant, then public) queries would still find it: reading it
    # through the connection, as a `SELECT ... LIMIT 0` probe does, would not notice.
    execute(f"ALTER TABLE {tenant.schema_name}.{Case._meta.db_table} SET SCHEMA public")
    found = failures(tenant)
    assert found == {"schema": f"missing tables: {Case._meta.db_table}"}


# --- The page part: what only rendering the pages finds ---------------------------------------


def test_a_home_page_that_fails_to_render_is_named(tenant, monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise ValueError("a template this tenant's content breaks")

    monkeypatch.setattr(HomePage, "get_context", broken)
    found = failures(tenant)
    assert set(found) == {"home page"}  # a 500 page, named with the view's exception
    assert "500" in found["home page"] and "ValueError:" in found["home page"]


def test_a_service_page_that_fails_to_render_is_named(tenant, monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise ValueError("a service page this release breaks")

    monkeypatch.setattr(ServiceIndexPage, "get_context", broken)
    found = failures(tenant)
    assert set(found) == {"service page"}
    assert "500" in found["service page"] and "ValueError:" in found["service page"]


def test_a_tenant_without_its_site_answers_404_and_is_named(tenant):
    with schema_context(tenant.schema_name):
        Site.objects.all().delete()
    found = failures(tenant)
    assert "404" in found["home page"]


def test_an_unpublished_home_page_is_named(tenant):
    execute(f"UPDATE {tenant.schema_name}.wagtailcore_page SET live = false WHERE depth = 2")
    found = failures(tenant)
    assert "404" in found["home page"]

