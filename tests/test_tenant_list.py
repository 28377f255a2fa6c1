"""`dgbox tenant list` (issue 18): a page at a time (50 unless told), sorted and sliced in SQL,
searchable by slug, schema, name or domain in any case (Cyrillic too), a footer saying what
was shown and how to see more; a page costs the same queries at 6 tenants and at 130.

The tenants added here are rows without schemas (bulk_create), all the listing reads; each
test searches for its own, so that tenants other tests committed do not change its pages."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext

from tenants.management.commands.tenant import list_footer
from tenants.models import Domain, Tenant

pytestmark = pytest.mark.django_db

SHOWING = "Showing %(first)s-%(last)s of %(total)s."
SHOWING_MORE = "Showing %(first)s-%(last)s of %(total)s; next: %(next)s, all: --all."
PAST_THE_END = ("Nothing from number %(first)s on: there are %(total)s; the last page is "
                "--page %(pages)s.")
NO_MATCH = "No tenant matches the search or status given."


def add_regions(prefix, names, start=0):
    """Active regions `<prefix>-NNNN` (schema `<prefix>_NNNN`) with one domain each."""
    tenants = Tenant.objects.bulk_create([
        Tenant(name=name, slug=f"{prefix}-{i:04d}", schema_name=f"{prefix}_{i:04d}",
               kind=Tenant.Kind.REGION, status=Tenant.Status.ACTIVE)
        for i, name in enumerate(names, start=start)])
    Domain.objects.bulk_create([Domain(tenant=t, domain=f"{t.slug}.gov.example", is_primary=True)
                                for t in tenants])
    return tenants


def listing(*args):
    """(the rows' cells, the footer line) of `dgbox tenant list ARGS`."""
    out = StringIO()
    call_command("tenant", "list", *args, stdout=out)
    lines = out.getvalue().splitlines()
    if len(lines) == 1:  # nothing to list: the footer alone, no header
        return [], lines[0]
    return [re.split(r" {2,}", line) for line in lines[1:-1]], lines[-1]


def slugs(*args):
    rows, footer = listing(*args)
    return [row[0] for row in rows], footer


def test_pages_follow_one_another_to_the_end():
    add_regions("paged", [f"Тестовая {i:04d}" for i in range(7)])
    every = [f"paged-{i:04d}" for i in range(7)]  # sorted by name
    page = ("--search", "paged", "--limit", "3")

    assert slugs(*page) == (every[:3], gettext(SHOWING_MORE) % {
        "first": 1, "last": 3, "total": 7, "next": "--page 2"})
    assert slugs(*page, "--page", "2") == (every[3:6], gettext(SHOWING_MORE) % {
        "first": 4, "last": 6, "total": 7, "next": "--page 3"})
    assert slugs(*page, "--page", "3") == (every[6:], gettext(SHOWING) % {
        "first": 7, "last": 7, "total": 7})
    assert slugs(*page, "--page", "4") == ([], gettext(PAST_THE_END) % {
        "first": 10, "total": 7, "pages": 3})
    assert slugs(*page, "--offset", "2") == (every[2:5], gettext(SHOWING_MORE) % {
        "first": 3, "last": 5, "total": 7, "next": "--offset 5"})
    assert slugs(*page, "--offset", "6") == (every[6:], gettext(SHOWING) % {
        "first": 7, "last": 7, "total": 7})
    assert slugs("--search", "paged", "--limit", "7") == (every, gettext(SHOWING) % {
        "first": 1, "last": 7, "total": 7})
    assert slugs("--search", "paged", "--limit", "6")[0] == every[:6]
    for everything in (("--all",), ("--limit", "0")):
        assert slugs("--search", "paged", *everything) == (every, gettext(SHOWING) % {
            "first": 1, "last": 7, "total": 7})


def test_a_row_gives_slug_name_kind_parent_status_domains_and_creation_day(session_tenants):
    region = add_regions("cells", ["Верхние Дворики"])[0]
    Domain.objects.create(tenant=region, domain="dvoriki.example", is_primary=False)
    rows, _footer = listing("--search", "cells-0000")
    assert rows == [["cells-0000", "Верхние Дворики", "region", "-", "active",
                     "cells-0000.gov.example, dvoriki.example", f"{region.created_at:%Y-%m-%d}"]]
    rows, _footer = listing("--search", "ryabinovka")
    assert rows[0][:4] == ["ryabinovka", "Рябиновка", "municipality", "north"]


def test_fifty_by_default_and_every_tenant_with_all(session_tenants):
    add_regions("bulk", [f"Область {i:04d}" for i in range(60)])
    first, footer = slugs("--search", "bulk")
    assert first == [f"bulk-{i:04d}" for i in range(50)]
    assert footer == gettext(SHOWING_MORE) % {"first": 1, "last": 50, "total": 60,
                                              "next": "--page 2"}
    assert slugs("--search", "bulk", "--page", "2")[0] == [f"bulk-{i:04d}" for i in range(50, 60)]
    assert slugs("--search", "bulk", "--all")[0] == [f"bulk-{i:04d}" for i in range(60)]

    # Unfiltered: regions and municipalities, by kind then name; the default page is the
    # first 50 of the whole list, and --all is every launched tenant (never the national row).
    everything, footer = slugs("--all")
    total = Tenant.objects.launched().count()
    assert len(everything) == total > 60 and len(set(everything)) == total
    assert footer == gettext(SHOWING) % {"first": 1, "last": total, "total": total}
    assert slugs()[0] == everything[:50]
    assert "public" not in everything
    kinds = [row[2] for row in listing("--all")[0]]
    assert kinds == sorted(kinds) and {"region", "municipality"} <= set(kinds)


def test_search_matches_name_in_any_case_schema_and_domain(session_tenants):
    add_regions("find", ["Верхние Дворики", "Нижние Дворики", "Ёлкино"])
    Domain.objects.create(tenant=Tenant.objects.get(slug="find-0002"), domain="portal.city.example")
    both = ["find-0000", "find-0001"]
    assert slugs("--search", "дворики")[0] == both
    assert slugs("--search", "ДВОРИКИ")[0] == both
    assert slugs("--search", " верхние дв ")[0] == ["find-0000"]  # spaces around dropped
    assert slugs("--search", "ёлк")[0] == ["find-0002"]
    assert slugs("--search", "рЯбИнОв")[0] == ["ryabinovka"]
    assert slugs("--search", "CITY.EXAMPLE")[0] == ["find-0002"]  # a domain of its own
    # The schema name (the order of "Ёлкино" depends on the database's collation).
    assert set(slugs("--search", "find_000")[0]) == {*both, "find-0002"}
    assert slugs("--search", "дворики", "--status", "active")[0] == both
    assert slugs("--search", "Дворики", "--limit", "1") == (["find-0000"], gettext(
        SHOWING_MORE) % {"first": 1, "last": 1, "total": 2, "next": "--page 2"})


# `%` and `_` are characters, not wildcards; no stored text holds a NUL.
@pytest.mark.parametrize("search", ["нет такого", "%", "Верхние_Дворики", "\x00"])
def test_nothing_found_is_one_line_saying_so(search):
    add_regions("find", ["Верхние Дворики"])
    assert listing("--search", search) == ([], gettext(NO_MATCH))
    assert listing("--search", "дворики", "--status", "suspended") == ([], gettext(NO_MATCH))


def test_an_empty_fleet_is_told_how_to_launch_a_tenant():
    assert list_footer(total=0, offset=0, shown=0, limit=50, filtered=False) == gettext(
        "There are no tenants yet: launch one with dgbox tenant create.")
    assert list_footer(total=0, offset=0, shown=0, limit=50, filtered=True) == gettext(NO_MATCH)


@pytest.mark.parametrize("args", [("--limit", "-1"), ("--limit", "x"), ("--page", "0"),
                                  ("--offset", "-5"), ("--all", "--page", "2"),
                                  ("--limit", "5", "--all"), ("--page", "2", "--offset", "3"),
                                  # past PostgreSQL's bigint (an OFFSET): refused, not a DataError
                                  ("--page", "999999999999999999999"),
                                  ("--offset", "99999999999999999999999"),
                                  ("--limit", "1000000001")])
def test_bad_paging_options_are_refused(args):
    with pytest.raises(CommandError):
        listing(*args)


def queries(*args):
    with CaptureQueriesContext(connection) as captured:
        rows, _footer = listing(*args)
    return len(captured), len(rows)


def test_a_page_costs_the_same_queries_at_six_tenants_and_at_a_hundred_and_thirty(
        session_tenants):
    add_regions("cost", [f"Область {i:04d}" for i in range(3)])
    listing()  # the connection's first use (search path) out of the way
    pages = [(), ("--all",), ("--search", "cost"), ("--page", "2", "--limit", "2"),
             ("--status", "active", "--search", "область")]
    few = [queries(*args) for args in pages]
    add_regions("cost", [f"Область {i:04d}" for i in range(3, 130)], start=3)
    many = [queries(*args) for args in pages]
    assert [count for count, _rows in many] == [count for count, _rows in few]
    assert {count for count, _rows in many} == {3}  # the count, the page, the page's domains
    assert [rows for _count, rows in many] != [rows for _count, rows in few]  # bigger pages
    assert many[1][1] == Tenant.objects.launched().count()
