"""Security headers and error pages (issues 13 and 14): every kind of response carries the
same Content-Security-Policy, Permissions-Policy and security headers, and an X-Request-ID;
every error page is in its page's language and shows that id as its incident reference,
which is also on the request's log lines."""

import io
import logging
import re
import uuid

import pytest
from django.core.cache import caches
from django.db import OperationalError
from django.test import Client
from wagtail.api.v2.views import PagesAPIViewSet

from tenants import lifecycle

pytestmark = pytest.mark.django_db

NORTH = "north.localhost"
PORTAL = "localhost"
NONCE = re.compile(r" 'nonce-[A-Za-z0-9+/=]+'")
SECURITY_HEADERS = ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
                    "Permissions-Policy", "Cross-Origin-Opener-Policy")


def policy(response) -> str:
    """The CSP without its per-request nonce."""
    assert "Content-Security-Policy" in response, f"no CSP on a {response.status_code}"
    return NONCE.sub("", response["Content-Security-Policy"])


def headers_of(response) -> dict[str, str]:
    found = {name: response.get(name) for name in SECURITY_HEADERS}
    found["Content-Security-Policy"] = policy(response)
    return found


@pytest.fixture
def reference_page(client, tenant_a):
    """What an ordinary page of a tenant sends: the headers every other response must match."""
    response = client.get("/ru/", HTTP_HOST=NORTH)
    assert response.status_code == 200
    return headers_of(response)


def fail_with(monkeypatch, exc):
    """The API's listing raises `exc` (a 500 for a bug, a 503 for a lost database)."""

    def broken(self, request):
        raise exc

    monkeypatch.setattr(PagesAPIViewSet, "listing_view", broken)


def test_the_policy_is_strict(reference_page):
    csp = reference_page["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"  # plus the nonce, removed by policy()
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'" and directives["form-action"] == "'self'"
    assert "camera=()" in reference_page["Permissions-Policy"]
    assert "geolocation=()" in reference_page["Permissions-Policy"]
    assert reference_page["X-Frame-Options"] == "DENY"


def test_inline_scripts_and_styles_carry_the_nonce_the_policy_names(client, tenant_a):
    response = client.get("/ru/", HTTP_HOST=NORTH)
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])[1]
    body = response.content.decode()
    inline = re.findall(r"<(script|style)(?![^>]*\bsrc=)([^>]*)>", body)
    assert inline, "the page has its js-enabled script and its brand <style>"
    for tag, attributes in inline:
        if 'type="application/json"' in attributes:
            continue  # data, never run
        assert f'nonce="{nonce}"' in attributes, f"<{tag}{attributes}> has no nonce"
    assert ' style="' not in body, "a style attribute, which the policy refuses"
    # A new nonce for every response.
    again = client.get("/ru/", HTTP_HOST=NORTH)["Content-Security-Policy"]
    assert f"'nonce-{nonce}'" not in again


# Every kind of response: (name, how to make it, expected status).
def _get(path, host=NORTH, **extra):
    return lambda client: client.get(path, HTTP_HOST=host, **extra)


KINDS = [
    ("citizen page", _get("/ru/services/"), 200),
    ("national portal", _get("/", PORTAL), 200),
    ("admin sign-in", _get("/admin/login/"), 200),
    ("admin redirect", _get("/admin/"), 302),
    ("console sign-in", _get("/operator/login/", PORTAL), 200),
    ("API JSON", _get("/api/v2/pages/"), 200),
    ("static file", _get("/static/cms/dgbox.css"), 200),
    ("health probe", _get("/healthz", "10.0.0.7"), 200),
    ("400 bad query", _get("/ru/search/?q=%00"), 400),
    ("400 bad query, API", _get("/api/v2/pages/?search=%00"), 400),
    ("400 too many fields",
     lambda client: client.post("/feedback/", "&".join(f"f{i}=1" for i in range(1100)),
                                content_type="application/x-www-form-urlencoded",
                                HTTP_HOST=NORTH), 400),
    ("403 expired form",
     lambda client: Client(enforce_csrf_checks=True).post("/feedback/", {"q": "a"},
                                                          HTTP_HOST=NORTH), 403),
    ("404 tenant page", _get("/ru/no-such-page/"), 404),
    ("404 portal page", _get("/no-such-page/", PORTAL), 404),
    ("404 unknown host", _get("/", "atlantis.localhost"), 404),
    ("413 body too large",
     lambda client: client.post("/feedback/", "q=" + "a" * (3 * 1024 * 1024),
                                content_type="application/x-www-form-urlencoded",
                                HTTP_HOST=NORTH), 413),
]


@pytest.mark.parametrize(("kind", "make", "status"), KINDS, ids=[k[0] for k in KINDS])
def test_every_kind_of_response_has_the_same_headers(client, reference_page, kind, make,
                                                     status):
    response = make(client)
    assert response.status_code == status, kind
    expected = dict(reference_page)
    if kind.startswith("admin"):
        # The one allowance: inline styles in Wagtail's admin (docs/security.md, "Headers").
        expected["Content-Security-Policy"] = expected["Content-Security-Policy"].replace(
            "style-src 'self'", "style-src 'self' 'unsafe-inline'")
        script_src = re.search(r"script-src ([^;]*)", response["Content-Security-Policy"])[1]
        assert "unsafe" not in script_src
    assert headers_of(response) == expected, kind
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"]), kind


def test_archived_and_suspended_tenants_pages_have_the_same_headers(client, reference_page):
    lifecycle.archive("south")
    archived = client.get("/ru/", HTTP_HOST="south.localhost")
    assert archived.status_code == 410
    assert headers_of(archived) == reference_page
    lifecycle.suspend("ryabinovka")
    suspended = client.get("/ru/", HTTP_HOST="ryabinovka.localhost")
    assert suspended.status_code == 503
    assert headers_of(suspended) == reference_page


def test_500_and_outage_503_have_the_same_headers(monkeypatch, reference_page):
    client = Client(raise_request_exception=False)
    fail_with(monkeypatch, RuntimeError("a bug"))
    crashed = client.get("/api/v2/pages/", HTTP_HOST=NORTH)
    assert crashed.status_code == 500
    assert headers_of(crashed) == reference_page

    fail_with(monkeypatch, OperationalError("server closed the connection unexpectedly"))
    outage = client.get("/api/v2/pages/", HTTP_HOST=NORTH)
    assert outage.status_code == 503
    assert headers_of(outage) == reference_page


def test_api_429_has_the_same_headers(client, settings, reference_page):
    # A per-client limit of one request (tenants/limits.py, counted in the "counters" cache).
    caches["counters"].clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"client": "1/3650d"}}
    client.get("/api/v2/pages/", HTTP_HOST=NORTH, REMOTE_ADDR="192.0.2.9")
    response = client.get("/api/v2/pages/", HTTP_HOST=NORTH, REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 429
    assert headers_of(response) == reference_page


# --- Error pages: language and incident reference --------------------------------------------
@pytest.fixture
def log_lines():
    """What the real console handler (LOGGING) writes, with its filter and format."""
    handler = next(h for h in logging.getLogger().handlers
                   if isinstance(h, logging.StreamHandler) and h.name == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield lambda: stream.getvalue().splitlines()
    handler.setStream(previous)


def reference_on(response) -> str:
    found = re.search(r'id="incident-reference">(.+?)</strong>', response.content.decode())
    assert found, f"no incident reference on the {response.status_code} page"
    return found[1].replace("<wbr>", "")


ERROR_PAGES = [
    ("400", _get("/ru/search/?q=%00"), 400, "Refused a malformed request"),
    ("404", _get("/ru/no-such-page/"), 404, "Not Found: /ru/no-such-page/"),
    ("404 unknown host", _get("/ru/", "atlantis.localhost"), 404, "Not Found: /ru/"),
    ("413", KINDS[-1][1], 413, "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE"),
    ("403", KINDS[11][1], 403, "Forbidden (CSRF cookie not set.)"),
]


@pytest.mark.parametrize(("name", "make", "status", "logged"), ERROR_PAGES,
                         ids=[e[0] for e in ERROR_PAGES])
def test_an_error_page_shows_the_reference_logged_for_its_request(client, tenant_a, log_lines,
                                                                  name, make, status, logged):
    response = make(client)
    assert response.status_code == status
    reference = reference_on(response)
    assert reference == response["X-Request-ID"]
    body = response.content.decode()
    assert '<html lang="ru"' in body and "сообщите этот номер" in body  # Russian tenant
    lines = [line for line in log_lines()  # log records, not the lines of a traceback
             if logged in line and re.match(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) ", line)]
    assert lines, f"no log line with {logged!r} in {log_lines()}"
    assert all(f"[{reference}]" in line for line in lines), lines


def test_the_500_page_in_its_language_with_the_logged_reference(monkeypatch, log_lines,
                                                                tenant_a):
    client = Client(raise_request_exception=False)
    fail_with(monkeypatch, RuntimeError("a bug"))
    response = client.get("/ru/", HTTP_HOST=NORTH)  # a page works: the API is what is broken
    assert response.status_code == 200
    monkeypatch.setattr("cms.views.render", lambda *a, **k: 1 / 0)
    response = client.get("/ru/search/", HTTP_HOST=NORTH)
    assert response.status_code == 500
    reference = reference_on(response)
    assert '<html lang="ru"' in response.content.decode()
    errors = [line for line in log_lines() if "Internal Server Error: /ru/search/" in line]
    assert errors and f"[{reference}]" in errors[0]
    assert headers_of(response)["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(("host", "language"), [("south.localhost", "ru")])
def test_maintenance_archived_and_outage_pages_show_a_reference(client, session_tenants,
                                                                 monkeypatch, log_lines,
                                                                 host, language):
    lifecycle.suspend("south")
    response = client.get("/ru/", HTTP_HOST=host)
    assert response.status_code == 503
    assert reference_on(response) == response["X-Request-ID"]
    lifecycle.archive("south")
    response = client.get("/ru/", HTTP_HOST=host)
    assert response.status_code == 410
    assert reference_on(response) == response["X-Request-ID"]

    fail_with(monkeypatch, OperationalError("server closed the connection unexpectedly"))
    monkeypatch.setattr("cms.views.render",
                        lambda *a, **k: (_ for _ in ()).throw(OperationalError("gone")))
    response = Client(raise_request_exception=False).get("/en/search/", HTTP_HOST=NORTH)
    assert response.status_code == 503
    reference = reference_on(response)
    assert '<html lang="en"' in response.content.decode()
    assert "quote this reference" in response.content.decode()
    lines = [line for line in log_lines() if "answered 503" in line]
    assert lines and f"[{reference}]" in lines[0]


# --- X-Request-ID from outside ---------------------------------------------------------------
def test_a_clients_request_id_is_ignored(client, tenant_a):
    chosen = uuid.uuid4().hex
    response = client.get("/ru/nope/", HTTP_HOST=NORTH, HTTP_X_REQUEST_ID=chosen)
    assert response["X-Request-ID"] != chosen
    assert reference_on(response) == response["X-Request-ID"]


def test_a_trusted_proxys_request_id_is_kept_if_it_is_sane(client, tenant_a, settings):
    settings.DGBOX_TRUSTED_PROXY_NETWORKS = ["10.1.0.0/16"]
    chosen = uuid.uuid4().hex
    response = client.get("/ru/nope/", HTTP_HOST=NORTH, HTTP_X_REQUEST_ID=chosen,
                          REMOTE_ADDR="10.1.2.3")
    assert response["X-Request-ID"] == chosen == reference_on(response)
    # From another address of the same client, or not a UUID: a new id.
    other = client.get("/ru/nope/", HTTP_HOST=NORTH, HTTP_X_REQUEST_ID=chosen,
                       REMOTE_ADDR="10.2.0.1")
    assert other["X-Request-ID"] != chosen
    for bad in ("<script>alert(1)</script>", "x" * 5000, "DROP TABLE", "\u202eabc"):
        response = client.get("/ru/nope/", HTTP_HOST=NORTH, HTTP_X_REQUEST_ID=bad,
                              REMOTE_ADDR="10.1.2.3")
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"]), bad
        assert bad not in response.content.decode()


def test_each_request_gets_its_own_id(client, tenant_a):
    ids = {client.get("/ru/", HTTP_HOST=NORTH)["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3
