"""Page weight budget, as a browser gets the pages from the running server: a tenant's home
and service pages, with the CSS and JavaScript they reference, transfer under 100 KB on a
first visit. gunicorn with production settings serves the committed session tenant, static
files collected the production way (hashed, gzip and Brotli copies; the admin's own static
files, which no public page references, are left out to keep the test quick). Bytes, not
time: deterministic."""

import re

import pytest
from django.conf import settings

from bench.page_weight import (
    ADMIN_STATIC,
    BUDGET_BYTES,
    IMMUTABLE_SECONDS,
    PAGES,
    RAW_GUARD_BYTES,
    collect_static,
    fetch,
    production_server,
    referenced_assets,
    weigh,
)

from .factories import database_url_of

# The server reads the committed session tenant; the marker sets up the test database.
pytestmark = pytest.mark.django_db


def test_only_stylesheets_and_scripts_are_followed():
    html = """<link rel="stylesheet" href="/static/a.css"><link rel="icon" href="/static/i.png">
    <link rel="preload" as="font" href="/static/f.woff2"><link rel="modulepreload"
    href="/static/m.js"><script>inline()</script><script type="module" src="/static/b.js">
    </script><img src="/static/c.png"><link rel="preload" as="style" href="/static/a.css">"""
    assert referenced_assets(html) == [("/static/a.css", "css"), ("/static/m.js", "js"),
                                       ("/static/b.js", "js")]


@pytest.fixture(scope="module")
def server(session_tenants, django_db_setup):
    static_root = collect_static(settings.STATE_DIR / "test-static", ignore=ADMIN_STATIC)
    with production_server(database_url_of(settings.DATABASES["default"]), static_root) as url:
        yield url


@pytest.fixture
def host(session_tenants):
    return f"{session_tenants['a'].slug}.{settings.BASE_DOMAIN}"  # committed, demo content


def test_demo_pages_with_their_css_and_js_transfer_under_100_kb(server, host):
    pages = [weigh(server, host, path, name) for name, path in PAGES.items()]
    for page in pages:
        kinds = {r.kind for r in page.resources}
        assert {"html", "css", "js"} <= kinds, f"no stylesheet or script found: {page.summary()}"
        assert not page.missing, f"referenced files missing (front end built?): {page.summary()}"
        for r in page.resources:
            # Compressed by the application (HTML) or ahead of time (static files).
            assert r.encoding in ("gzip", "br"), f"{r.url} sent uncompressed"
            if r.kind != "html":
                assert r.encoding == "br", f"{r.url}: no Brotli copy (is brotli installed?)"
                assert r.max_age >= IMMUTABLE_SECONDS and "immutable" in r.cache_control, (
                    f"{r.url} is not cached for long: {r.cache_control!r}")
    over = [page.summary() for page in pages if page.transferred > BUDGET_BYTES]
    assert not over, f"over the {BUDGET_BYTES:,}-byte transfer budget: " + "; ".join(over)
    # Raw bytes have a looser guard so that growth is caught even while compression hides it.
    bloated = [page.summary() for page in pages if page.raw > RAW_GUARD_BYTES]
    assert not bloated, f"raw size over {RAW_GUARD_BYTES:,} bytes: " + "; ".join(bloated)


def test_compression_follows_what_the_client_accepts(server, host):
    plain, html = fetch(server, host, PAGES["home"], "html", accept_encoding=None)
    assert plain.status == 200 and plain.encoding == ""
    gzipped, same = fetch(server, host, PAGES["home"], "html", accept_encoding="gzip")
    assert gzipped.encoding == "gzip" and "Accept-Encoding" in gzipped.vary
    assert gzipped.transferred < plain.transferred / 2
    # The same page (its CSRF token is masked anew in every response: BREACH; the CSP nonce
    # is new in every response too).
    masked = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"|nonce="[^"]*"')
    assert masked.sub("", same.decode()) == masked.sub("", html.decode())
    api, _ = fetch(server, host, "/api/v2/pages/?limit=20", "json", accept_encoding="gzip",
                   accept="application/json")
    assert api.status == 200 and api.encoding == "gzip"
    css_url = referenced_assets(html.decode())[0][0]
    css, _ = fetch(server, host, css_url, "css", accept_encoding="gzip")
    assert css.encoding == "gzip" and css.max_age >= IMMUTABLE_SECONDS


def test_error_pages_and_their_stylesheet_come_compressed_from_the_server(server):
    page, html = fetch(server, "atlantis.localhost", "/", "html")
    assert page.status == 404 and page.encoding == "gzip"
    css_url = referenced_assets(html.decode())[0][0]
    css, _ = fetch(server, "atlantis.localhost", css_url, "css")
    assert css.status == 200 and css.encoding == "br"
