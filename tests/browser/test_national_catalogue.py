"""The national catalogue's service finder (`/services/` on the base domain, issue 16) on a
phone: a citizen goes from the portal's home page to the finder, searches in Russian, narrows
by region and "online", sees each result's tenant and follows a result to the tenant's own
service page; the same search works with JavaScript off. On every finder page: no sideways
scrolling at 360 px and no WCAG 2.2 A/AA violation (axe-core), with results and without; the
page weight (HTML and CSS as served) is printed and bounded."""

import gzip
import re
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db

PHONE = {"width": 360, "height": 740}  # the `phone` fixture's screen

SEARCH = "вырубка деревьев"  # other forms of the words in the titles: Russian stemming
ONLINE_TITLE = "Разрешение на вырубку деревьев"  # in Рябиновка, a municipality of north
OFFLINE_TITLE = "Порубочный билет на вырубку деревьев"  # in south, by visiting the office
#: HTML and CSS of a finder page with results, as the test server sends them (the HTML
#: compressed, the stylesheet not: collectstatic's compressed copies are not made in tests).
#: GOV.UK Frontend's stylesheet is most of it; a phone on a slow 3G link gets it in a second
#: or two, and only once (the stylesheet is cached).
WEIGHT_LIMIT = 100_000


@pytest.fixture(scope="module")
def published(server, session_tenants, django_db_blocker):
    """A service page published in a municipality of tenant_a's region (online: another
    website takes applications) and one in tenant_b (not online), committed and indexed as
    publishing indexes them (after the commit), with addresses on the live server's port so
    that a result can be followed. Deleted afterwards, which withdraws their entries."""
    from cms.models import ServiceIndexPage, ServicePage

    made = []
    with django_db_blocker.unblock(), override_settings(DGBOX_SITE_PORT=server):
        for tenant, title, slug, apply_url in [
                (session_tenants["m"], ONLINE_TITLE, "vyrubka-derevev",
                 "https://www.gosuslugi.ru/600142/1"),
                (session_tenants["b"], OFFLINE_TITLE, "porubochnyj-bilet", "")]:
            with tenant_context(tenant):
                index = ServiceIndexPage.objects.get(locale__language_code="ru")
                page = index.add_child(instance=ServicePage(
                    title=title, slug=slug, summary="Снос и обрезка деревьев на участке.",
                    who_can_apply="<p>Владельцы участков</p>", legal_basis="<p>Устав</p>",
                    processing_days=10, apply_url=apply_url, life_events=[]))
                page.save_revision().publish()  # autocommit: the index is written at once
                # The tenant's page on its own host, as the citizen reaches it.
                made.append((tenant, page.pk,
                             f"http://{tenant.primary_domain}:{server}/ru/services/{slug}/"))
        connection.set_schema_to_public()
    yield {title: url for (_t, _pk, url), title in zip(made, (ONLINE_TITLE, OFFLINE_TITLE),
                                                        strict=True)}
    with django_db_blocker.unblock():
        for tenant, pk, _url in made:
            with tenant_context(tenant):
                ServicePage.objects.get(pk=pk).delete()
        connection.set_schema_to_public()


def weight(urls):
    """Bytes of `urls` as the server sends them to a browser (gzip accepted), unpacked, and
    all gzipped."""
    sent = whole = packed = 0
    for url in urls:
        request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            body = response.read()
            sent += len(body)
            gzipped = response.headers.get("Content-Encoding") == "gzip"
            unpacked = gzip.decompress(body) if gzipped else body
            whole += len(unpacked)
            packed += len(gzip.compress(unpacked))
    return sent, whole, packed


def results(page):
    return page.locator("ol[aria-labelledby='finder-results'] > li")


def test_citizen_finds_a_service_of_a_municipality_on_a_phone(
        server, phone, published, check_step):
    from tenants.models import CatalogueEntry

    assert CatalogueEntry.objects.filter(title__in=list(published), visible=True).count() == 2
    portal = f"http://localhost:{server}"
    page = phone

    # The portal's home page links to the finder.
    page.goto(portal + "/")
    check_step(page)
    page.locator("main a[href='/services/']").click()
    page.wait_for_url(portal + "/services/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check_step(page)

    # Russian words in other forms find both services, each with its tenant's name.
    page.locator("#finder-q").fill(SEARCH)
    page.locator("form[role=search] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/services/\?q="))
    found = results(page)
    expect(found.filter(has_text=ONLINE_TITLE)).to_contain_text("Рябиновка")
    expect(found.filter(has_text=OFFLINE_TITLE)).to_contain_text("Южная область")
    check_step(page)

    # The region (which includes its municipalities) and "online": the municipality's only.
    page.locator("#finder-territory").select_option(label="Северная область")
    page.locator("#finder-online").check()
    page.locator("form[role=search] button[type=submit]").click()
    page.wait_for_url(re.compile(r"territory=north"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["q"] == [SEARCH] and query["online"] == ["1"]
    expect(found).to_have_count(1)
    expect(found).to_contain_text("Рябиновка")
    expect(page.locator("[role=status]")).to_contain_text("1")
    assert page.locator("#finder-q").input_value() == SEARCH  # the form keeps the search
    assert page.locator("#finder-online").is_checked()
    check_step(page)
    link = found.get_by_role("link", name=ONLINE_TITLE)
    assert link.get_attribute("href") == published[ONLINE_TITLE]
    assert urlsplit(published[ONLINE_TITLE]).netloc == f"ryabinovka.localhost:{server}"

    # Page weight: the finder's HTML and its stylesheets as served to a browser (compressed).
    stylesheets = page.eval_on_selector_all("link[rel=stylesheet]",
                                            "links => links.map(link => link.href)")
    sent, whole, packed = weight([page.url, *stylesheets])
    print(f"\nnational catalogue page with results, HTML + CSS: {sent} B as sent "  # noqa: T201
          f"({whole} B uncompressed, {packed} B all gzipped as collectstatic serves it)")
    assert sent < WEIGHT_LIMIT, f"the finder page weighs {sent} B as sent"

    # The result leads to the municipality's own page.
    link.click()
    page.wait_for_url(published[ONLINE_TITLE])
    expect(page.get_by_role("heading", level=1)).to_have_text(ONLINE_TITLE)

    # Nothing found: said so, still accessible and no wider than the phone.
    page.goto(portal + "/services/?" + "q=абвгдеёжзийк&territory=south&online=1")
    expect(page.locator("[role=status]")).to_contain_text("0")
    expect(results(page)).to_have_count(0)
    check_step(page)


def test_the_finder_works_without_javascript(server, browser, published, assert_fits_the_phone):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(60_000)  # readiness bound on a loaded machine, not a speed check
    try:
        page.goto(f"http://localhost:{server}/services/")
        page.locator("#finder-q").fill(SEARCH)
        page.locator("#finder-territory").select_option("south")
        page.locator("form[role=search] button[type=submit]").click()
        page.wait_for_url(re.compile(r"territory=south"))
        found = results(page)
        expect(found).to_have_count(1)
        expect(found).to_contain_text("Южная область")
        assert found.get_by_role("link").get_attribute("href") == published[OFFLINE_TITLE]
        assert_fits_the_phone(page)
        # Online only: south's service is taken at the office, so nothing is found.
        page.locator("#finder-online").check()
        page.locator("form[role=search] button[type=submit]").click()
        page.wait_for_url(re.compile(r"online=1"))
        expect(results(page)).to_have_count(0)
        assert_fits_the_phone(page)
    finally:
        context.close()
