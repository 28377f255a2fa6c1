"""The operator console on the base domain: only public-schema operators get in (a tenant's
administrator cannot), tenants are listed with their usage and status, rollouts with the
tenants that failed and why, charts carry a text summary, bad parameters fall back to
defaults, the query count does not grow with the number of tenants, and the console does
not exist on a tenant's domain."""

import csv
import datetime
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants import metering
from tenants.metering import summary
from tenants.models import Rollout, RolloutStep, Tenant, UsageRecord

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
PASSWORD = "a long operator password"


@pytest.fixture
def operator(tenant_a):
    user = get_user_model().objects.create_user("operator", "op@gov.example", PASSWORD,
                                                is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_tenant",
                                                     content_type__app_label="tenants"))
    return user


@pytest.fixture
def console(client, operator):
    client.force_login(operator)
    return client


def usage(tenant, days_ago=0, **values):
    defaults = {"api_calls": 0, "cases_new": 0, "notifications_sent": 0, "sms_sent": 0,
                "cases_total": 0, "cases_open": 0, "storage_objects": 0, "storage_bytes": 0,
                "media_bytes": 0}
    return UsageRecord.objects.create(
        tenant=tenant, schema_name=tenant.schema_name,
        day=metering.platform_today() - datetime.timedelta(days=days_ago),
        collected_at=timezone.now(), **{**defaults, **values})


# --- Who gets in -------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, tenant_a):
    response = client.get("/operator/", **PORTAL)
    assert response.status_code == 302
    assert response["Location"].startswith("/operator/login/?next=/operator/")
    page = client.get("/operator/login/", **PORTAL)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]


def test_operator_signs_in_and_out(client, operator):
    response = client.post("/operator/login/", {"username": "operator", "password": PASSWORD},
                           **PORTAL)
    assert response.status_code == 302 and response["Location"] == "/operator/"
    assert client.get("/operator/", **PORTAL).status_code == 200
    assert client.post("/operator/logout/", **PORTAL).status_code == 302
    assert client.get("/operator/", **PORTAL).status_code == 302


def test_wrong_password_is_a_clear_error(client, operator):
    response = client.post("/operator/login/", {"username": "operator", "password": "nope"},
                           **PORTAL)
    assert response.status_code == 200
    assert 'class="govuk-error-summary"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_tenant_administrator_cannot_sign_in(client, tenant_a):
    with tenant_context(tenant_a):
        get_user_model().objects.create_superuser("north-admin", "a@north.example", PASSWORD)
    connection.set_schema_to_public()
    response = client.post("/operator/login/", {"username": "north-admin",
                                                "password": PASSWORD}, **PORTAL)
    assert response.status_code == 200  # the form again: no such user in the public schema
    assert client.get("/operator/", **PORTAL).status_code == 302


def test_signed_in_without_the_permission_is_forbidden(client, tenant_a):
    user = get_user_model().objects.create_user("clerk", "c@gov.example", PASSWORD)
    client.force_login(user)
    assert client.get("/operator/", **PORTAL).status_code == 403
    assert client.get("/operator/rollouts/", **PORTAL).status_code == 403


def test_no_console_on_a_tenant_site(console, tenant_a):
    response = console.get("/operator/", HTTP_HOST="north.localhost", follow=True)
    assert response.status_code == 404


# --- What operators see ----------------------------------------------------------------------


def test_home_lists_tenants_with_usage_and_fleet_charts(console, tenant_a, tenant_b):
    usage(tenant_a, api_calls=40, cases_new=3, notifications_sent=5, cases_total=12,
          cases_open=4, storage_bytes=3 * 1024 * 1024)
    usage(tenant_a, days_ago=1, api_calls=2)
    usage(tenant_b, api_calls=7)
    response = console.get("/operator/", **PORTAL)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    rows = {r["tenant"].slug: r for r in response.context["rows"]}
    assert rows[tenant_a.slug]["usage"]["api_calls"] == 42
    assert rows[tenant_a.slug]["usage"]["cases_total"] == 12
    assert rows[tenant_b.slug]["usage"]["api_calls"] == 7
    body = response.content.decode()
    assert tenant_a.name in body and tenant_b.name in body
    assert "4 / 12" in body  # open / total cases
    assert re.search(r"3[.,]0\xa0(MB|МБ)", body)  # private files
    assert body.count('role="img"') == 3  # API calls, new cases, notifications
    # The API chart's text summary gives the fleet's total, 42 + 7.
    assert re.search(r'role="img" aria-label="[^"]*\b49\b', body)


def test_sort_and_period_fall_back_on_bad_values(console, tenant_a, tenant_b):
    usage(tenant_a, api_calls=1)
    usage(tenant_b, api_calls=100)
    by_api = console.get("/operator/?sort=api", **PORTAL).context["rows"]
    assert [r["tenant"].slug for r in by_api][:2] == [tenant_b.slug, tenant_a.slug]
    response = console.get("/operator/?sort=drop+table&days=abc", **PORTAL)
    assert response.status_code == 200
    assert response.context["sort"] == "name" and response.context["days"] == 30
    assert console.get("/operator/?days=7", **PORTAL).context["days"] == 7
    assert len(console.get("/operator/?days=7", **PORTAL).context["series"]) == 7


@pytest.fixture
def ahead(settings):
    """Production's way: the figures are computed by the beat job, not by the page; returns
    the job (run it as beat would). The queue-once key is the test cache's, emptied."""
    from django.core.cache import cache

    settings.DGBOX_CONSOLE_USAGE_CACHE_SECONDS = 300
    cache.delete(summary.QUEUED_KEY)
    # No figures from before: a browser test's console views (live server, committed, the
    # figures computed on the view as the test settings ask) leave them in the public schema.
    # Deleted inside this test's transaction, so only for this test.
    from tenants.models import FleetUsage, UsageSummary

    FleetUsage.objects.all().delete()
    UsageSummary.objects.all().delete()
    yield summary.summarise_usage
    cache.delete(summary.QUEUED_KEY)


def _queries(console, path="/operator/"):
    with CaptureQueriesContext(connection) as ctx:
        response = console.get(path, **PORTAL)
    assert response.status_code == 200
    return response, [q["sql"] for q in ctx.captured_queries]


def test_home_query_count_does_not_grow_with_tenants(console, tenant_a, ahead):
    """Figures computed ahead: the same queries at 2 tenants and 32, whatever the sort,
    page or search, and none reads a usage record (5,000 tenants: 150,000 rows a 30-day
    view) or sums anything in Python: the page's 50 rows come sorted from SQL."""
    ahead()
    _queries(console)  # the first request of the test also looks the host up
    _, few = _queries(console)
    for i in range(30):
        tenant = Tenant.objects.create(name=f"Extra {i}", slug=f"extra-{i}", kind="region",
                                       schema_name=f"extra_{i}", status="active")
        usage(tenant, api_calls=i)
    ahead()
    _queries(console)  # the tenants changed: the host is looked up again, once
    table = UsageRecord._meta.db_table
    for path in ("/operator/", "/operator/?sort=api", "/operator/?sort=storage&page=2",
                 "/operator/?q=extra&sort=cases", "/operator/?days=90&sort=new"):
        response, sqls = _queries(console, path)
        assert len(sqls) == len(few), path
        assert not [q for q in sqls if f'"{table}"' in q], path
        assert response.context["usage_as_of"] is not None
    assert response.context["rows"][0]["usage"]["api_calls"] == 0  # days=90, sort by new


def test_the_page_shows_what_the_job_computed(console, tenant_a, tenant_b, ahead):
    usage(tenant_a, api_calls=5)
    usage(tenant_b, days_ago=2, api_calls=7)
    ahead()
    first = console.get("/operator/", **PORTAL).context
    assert first["totals"]["api_calls"] == 12
    assert [p["api_calls"] for p in first["series"][-3:]] == [7, 0, 5]
    usage(tenant_a, days_ago=1, api_calls=100)
    # Collected hourly, summed by the job: until it runs again, the page shows its figures.
    assert console.get("/operator/", **PORTAL).context["totals"]["api_calls"] == 12
    ahead()
    again = console.get("/operator/?sort=api", **PORTAL).context
    assert again["totals"]["api_calls"] == 112
    assert [(r["tenant"].slug, r["usage"]["api_calls"]) for r in again["rows"][:2]] \
        == [(tenant_a.slug, 105), (tenant_b.slug, 7)]
    # The same figures as computing them on the view (the tests' setting), and as the CSV.
    from django.test import override_settings

    with override_settings(DGBOX_CONSOLE_USAGE_CACHE_SECONDS=0):
        live = console.get("/operator/?sort=api", **PORTAL).context
    assert live["totals"] == again["totals"] and live["series"] == again["series"]
    assert [r["usage"] for r in live["rows"]] == [r["usage"] for r in again["rows"]]


def test_without_figures_the_page_answers_at_once_and_queues_the_job(
        console, tenant_a, tenant_b, ahead, django_capture_on_commit_callbacks):
    usage(tenant_a, api_calls=5)
    with django_capture_on_commit_callbacks() as queued:
        response, sqls = _queries(console, "/operator/?sort=api")
    assert not [q for q in sqls if f'"{UsageRecord._meta.db_table}"' in q]
    assert response.context["totals"] is None and response.context["charts"] is None
    assert {r["tenant"].slug for r in response.context["rows"]} >= {tenant_a.slug,
                                                                     tenant_b.slug}
    assert all(r["usage"] == {} for r in response.context["rows"])
    body = response.content.decode()
    assert 'id="usage-pending"' in body and 'role="img"' not in body
    assert len(queued) == 1  # the job, sent once the view's transaction commits
    with django_capture_on_commit_callbacks() as again:
        console.get("/operator/", **PORTAL)
    assert again == []  # queued once per interval, whoever asks
    queued[0]()  # the job runs (in-process in the tests)
    response = console.get("/operator/", **PORTAL)
    assert response.context["totals"]["api_calls"] == 5
    assert 'id="usage-pending"' not in response.content.decode()


def test_old_figures_are_shown_with_their_age_and_the_job_is_queued(
        console, tenant_a, ahead, django_capture_on_commit_callbacks):
    usage(tenant_a, api_calls=5)
    summary.refresh(now=timezone.now() - datetime.timedelta(minutes=11))  # beat stopped
    with django_capture_on_commit_callbacks() as queued:
        response = console.get("/operator/", **PORTAL)
    assert response.context["totals"]["api_calls"] == 5
    assert 'id="usage-stale"' in response.content.decode()
    assert len(queued) == 1


def test_with_redis_down_the_page_still_answers(console, tenant_a, ahead, redis_counters,
                                                django_capture_on_commit_callbacks):
    """The figures live in the database: a stopped cache changes nothing but the queue-once
    key (nothing is queued; beat sends the job when Redis is back)."""
    usage(tenant_a, api_calls=5)
    redis_counters.stop()
    with django_capture_on_commit_callbacks() as queued:
        missing = console.get("/operator/", **PORTAL)
    assert missing.status_code == 200 and queued == []
    ahead()
    response = console.get("/operator/?sort=api", **PORTAL)
    assert response.status_code == 200 and response.context["totals"]["api_calls"] == 5


def test_a_deleted_tenants_usage_stays_in_the_fleet_totals(console, tenant_a, tenant_b,
                                                           ahead):
    usage(tenant_a, api_calls=5)
    gone = Tenant.objects.create(name="Ушедший район", slug="gone", kind="region",
                                 schema_name="gone", status="active")
    usage(gone, api_calls=3)
    ahead()
    gone.delete()  # its summary rows go with it, its usage records stay
    response = console.get("/operator/?sort=api", **PORTAL)
    assert response.context["totals"]["api_calls"] == 8
    assert "gone" not in {r["tenant"].slug for r in response.context["rows"]}
    ahead()
    assert console.get("/operator/", **PORTAL).context["totals"]["api_calls"] == 8


def _extra_tenants(n, **fields):
    return [Tenant.objects.create(name=f"Район {i:03d}", slug=f"raion-{i:03d}", kind="region",
                                  schema_name=f"raion_{i:03d}", status="active", **fields)
            for i in range(n)]


def test_tenants_are_listed_a_page_at_a_time(console, tenant_a, tenant_b):
    for i, tenant in enumerate(_extra_tenants(60)):
        usage(tenant, api_calls=i + 1)
    seen, total = [], None
    for page in (1, 2):
        response = console.get(f"/operator/?page={page}", **PORTAL)
        total = response.context["page"].paginator.count
        rows = response.context["rows"]
        seen += [r["tenant"].slug for r in rows]
        body = response.content.decode()
        assert 'aria-label="Pages of the tenant list"' in body or "Страницы списка" in body
    assert len(seen) == len(set(seen)) == total >= 62
    assert {tenant_a.slug, tenant_b.slug, "raion-000", "raion-059"} <= set(seen)
    assert len(console.get("/operator/?page=1", **PORTAL).context["rows"]) == 50
    # Sorted by a usage figure, across pages: the busiest first, page 2 goes on from page 1.
    first = console.get("/operator/?sort=api", **PORTAL).context["rows"]
    second = console.get("/operator/?sort=api&page=2", **PORTAL).context["rows"]
    calls = [r["usage"].get("api_calls", 0) for r in first + second]
    assert calls[:3] == [60, 59, 58] and calls == sorted(calls, reverse=True)
    # The page links keep the sort and period.
    body = console.get("/operator/?sort=api&days=7", **PORTAL).content.decode()
    assert "sort=api&amp;days=7&amp;page=2" in body
    # Totals and charts are the whole fleet's, not the page's.
    assert console.get("/operator/?page=2", **PORTAL).context["totals"]["api_calls"] \
        == sum(range(1, 61))


@pytest.mark.parametrize("q, expected", [
    ("Северная", "north"), ("северная", "north"), ("SOUTH", "south"),
    ("Район 05", "raion-05"), ("raion-05", "raion-05"),
])
def test_search_by_name_or_address(console, tenant_a, tenant_b, q, expected):
    _extra_tenants(60)
    response = console.get("/operator/", {"q": q}, **PORTAL)
    slugs = [r["tenant"].slug for r in response.context["rows"]]
    assert slugs and all(expected in s or expected in r["tenant"].name.lower()
                         for s, r in zip(slugs, response.context["rows"], strict=True))
    assert 'role="search"' in response.content.decode()


@pytest.mark.parametrize("q", ["%", "_", "'; drop table", "я" * 10_000, "\u202e",
                               "nothing-like-this"])
def test_odd_searches_answer_without_error(console, tenant_a, q):
    response = console.get("/operator/", {"q": q, "page": "999999"}, **PORTAL)
    assert response.status_code == 200
    assert len(response.context["search"]) <= 100


def test_a_nul_in_the_search_is_a_clear_400(console, tenant_a):
    # dgbox.middleware.MalformedInputMiddleware refuses NUL in any query string.
    response = console.get("/operator/", {"q": "a\x00b"}, **PORTAL)
    assert response.status_code == 400


def test_tenant_page_shows_facts_usage_and_rollout_steps(console, tenant_a):
    usage(tenant_a, api_calls=9, cases_total=3, cases_open=1, storage_bytes=2048,
          storage_objects=2, media_bytes=10)
    rollout = Rollout.objects.create(release="2026.11.2", fingerprint="f" * 16,
                                     status=Rollout.Status.HALTED)
    RolloutStep.objects.create(rollout=rollout, tenant=tenant_a,
                               schema_name=tenant_a.schema_name, slug=tenant_a.slug, ring=1,
                               status=RolloutStep.Status.FAILED, error="column x already exists")
    response = console.get(f"/operator/tenants/{tenant_a.slug}/", **PORTAL)
    body = response.content.decode()
    assert response.status_code == 200
    assert "2026.11.2" in body and "column x already exists" in body
    primary = tenant_a.domains.get(is_primary=True).domain
    assert f'href="http://{primary}' in body and '/admin/"' in body  # its site and admin
    assert "1 open of 3" in body or "1 открыто из 3" in body
    assert [p["api_calls"] for p in response.context["series"]][-1] == 9
    assert console.get("/operator/tenants/no-such-tenant/", **PORTAL).status_code == 404


def test_rollout_history_names_failed_tenants_and_errors(console, tenant_a, tenant_b):
    rollout = Rollout.objects.create(release="2026.12.0", fingerprint="a" * 16,
                                     status=Rollout.Status.HALTED,
                                     halt_reason="ring 1: 1 of 2 tenants failed")
    RolloutStep.objects.create(rollout=rollout, kind="public", schema_name="public", ring=0,
                               status="done")
    RolloutStep.objects.create(rollout=rollout, tenant=tenant_a, schema_name=tenant_a.schema_name,
                               slug=tenant_a.slug, ring=1, status="failed",
                               error='relation "services_case" already exists')
    RolloutStep.objects.create(rollout=rollout, tenant=tenant_b, schema_name=tenant_b.schema_name,
                               slug=tenant_b.slug, ring=1, status="done", seconds=1.5)
    listing = console.get("/operator/rollouts/", **PORTAL)
    row = next(r for r in listing.context["page"].object_list if r.pk == rollout.pk)
    assert (row.tenants, row.done, row.failed) == (2, 2, 1)
    detail = console.get(f"/operator/rollouts/{rollout.pk}/", **PORTAL)
    body = detail.content.decode()
    assert "ring 1: 1 of 2 tenants failed" in body
    assert "relation &quot;services_case&quot; already exists" in body
    failed = console.get(f"/operator/rollouts/{rollout.pk}/?status=failed", **PORTAL)
    assert [s.slug for s in failed.context["steps"]] == [tenant_a.slug]
    assert console.get("/operator/rollouts/999999/", **PORTAL).status_code == 404


def test_usage_csv_has_one_row_per_tenant_and_day(console, tenant_a, tenant_b):
    usage(tenant_a, api_calls=3, storage_bytes=None)
    usage(tenant_a, days_ago=1, api_calls=4)
    usage(tenant_b, days_ago=100, api_calls=5)  # outside the period
    response = console.get("/operator/usage.csv?days=30", **PORTAL)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["tenant"], r["api_calls"]) for r in rows] == [(tenant_a.slug, "4"),
                                                             (tenant_a.slug, "3")]
    assert rows[1]["storage_bytes"] == ""  # not measured stays empty, never 0


# --- Operators from the CLI ------------------------------------------------------------------


def _cli(*args):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("operator", *args, stdout=out)
    return out.getvalue()


def test_an_added_operator_sets_a_password_with_the_one_time_link_and_signs_in(client,
                                                                              tenant_a):
    out = _cli("add", "Olga@Gov.example")
    link = re.search(r"http://localhost(?::\d+)?(/operator/password/\S+/)", out).group(1)
    user = get_user_model().objects.get(email="olga@gov.example")
    assert user.is_staff and not user.is_superuser and not user.has_usable_password()
    assert user.has_perm("tenants.view_tenant")
    # Django moves the token into the session and redirects to a token-less URL.
    form_url = client.get(link, **PORTAL)["Location"]
    assert client.get(form_url, **PORTAL).context["validlink"]
    weak = client.post(form_url, {"new_password1": "short", "new_password2": "short"}, **PORTAL)
    assert weak.status_code == 200 and 'class="govuk-error-summary"' in weak.content.decode()
    done = client.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD},
                       **PORTAL)
    assert done.status_code == 302 and done["Location"] == "/operator/login/"
    assert client.post("/operator/login/", {"username": "olga@gov.example",
                                            "password": PASSWORD}, **PORTAL).status_code == 302
    assert client.get("/operator/", **PORTAL).status_code == 200
    # The link worked once.
    client.post("/operator/logout/", **PORTAL)
    again = client.get(client.get(link, **PORTAL).get("Location", link), **PORTAL)
    assert again.status_code == 200 and not again.context["validlink"]


def test_operator_cli_refuses_bad_input_with_a_clear_error(operator):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not an e-mail address"):
        _cli("add", "not-an-address")
    with pytest.raises(CommandError, match="already has an account"):
        _cli("add", "op@gov.example")
    with pytest.raises(CommandError, match="No operator nobody@gov.example"):
        _cli("link", "nobody@gov.example")


def test_a_deactivated_operator_loses_access_at_once(console, operator):
    assert console.get("/operator/", **PORTAL).status_code == 200
    _cli("deactivate", "op@gov.example")
    assert console.get("/operator/", **PORTAL).status_code == 302  # the session stops working
    assert "deactivated" in _cli("list")
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="deactivated"):
        _cli("link", "op@gov.example")
    _cli("activate", "op@gov.example")
    assert "active" in _cli("list")
