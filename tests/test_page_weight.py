"""Page weight budget: a tenant's home and service pages, with the CSS and JavaScript they
reference, stay under 100 KB uncompressed. Bytes, not time: deterministic."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from bench.page_weight import (
    BUDGET_BYTES,
    PAGES,
    RAW_GUARD_BYTES,
    read_static,
    referenced_assets,
    weigh,
)
from demo.site import populate

from .factories import launch


def test_only_stylesheets_and_scripts_are_followed():
    html = """<link rel="stylesheet" href="/static/a.css"><link rel="icon" href="/static/i.png">
    <link rel="preload" as="font" href="/static/f.woff2"><link rel="modulepreload"
    href="/static/m.js"><script>inline()</script><script type="module" src="/static/b.js">
    </script><img src="/static/c.png"><link rel="preload" as="style" href="/static/a.css">"""
    assert referenced_assets(html) == [("/static/a.css", "css"), ("/static/m.js", "js"),
                                       ("/static/b.js", "js")]


def test_static_files_are_read_as_served_and_missing_ones_are_reported():
    assert read_static("/static/cms/dgbox.css") is not None  # the front end is built
    assert read_static("/static/cms/no-such-file.css") is None
    assert read_static("https://cdn.example/cms/dgbox.css") is None  # not ours: not weighed


@pytest.mark.django_db
def test_demo_pages_with_their_css_and_js_transfer_under_100_kb(client):
    tenant = launch("Весёлый Посёлок", slug="weighed", admin_email="admin@weighed.example").tenant
    with tenant_context(tenant):
        populate("ru")
    connection.set_schema_to_public()

    pages = [weigh(client, tenant.primary_domain, path, name) for name, path in PAGES.items()]
    for page in pages:
        kinds = {r.kind for r in page.resources}
        assert {"html", "css", "js"} <= kinds, f"no stylesheet or script found: {page.summary()}"
        assert not page.missing, f"referenced files missing (front end built?): {page.summary()}"
    # The budget is on bytes transferred (compressed, as served); raw bytes have a looser
    # guard so that growth is caught even while compression hides it.
    over = [page.summary() for page in pages if page.gzip > BUDGET_BYTES]
    assert not over, f"over the {BUDGET_BYTES:,}-byte transfer budget: " + "; ".join(over)
    bloated = [page.summary() for page in pages if page.raw > RAW_GUARD_BYTES]
    assert not bloated, f"raw size over {RAW_GUARD_BYTES:,} bytes: " + "; ".join(bloated)
