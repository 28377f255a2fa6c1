"""Fuzzing (issue 14): hostile input on every public URL pattern of a tenant site and of the
national portal never gets a 5xx.

Hypothesis draws query strings, form bodies and path segments from hostile text (NUL and
other control characters, lone surrogates as the bytes a client would send for them, right-
to-left marks and overrides, 10 KB values, negative and huge numbers, invalid percent-
encoding and invalid UTF-8) and sends them through Django's full WSGI stack (routing,
middleware, views, templates) on the real test database, as the raw bytes a browser or a
script would put on the wire. Each target runs a fixed number of examples, derandomised, so a
run is deterministic and short.

`test_every_public_url_pattern_is_fuzzed` fails when a URL pattern is added that no target
covers (add a target, or list it in NOT_FUZZED with the reason).

Wagtail's API v2 publishes no OpenAPI document, so its endpoints and filters are fuzzed here;
/api/v1/ has one, and schemathesis fuzzes it from that document (tests/test_api_contract.py).
"""

import importlib
import itertools
import random
from dataclasses import dataclass, field
from urllib.parse import quote_from_bytes

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver
from django.utils import translation
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .factories import FORM_SPEC, GOOD_ANSWERS, NORTH, OnlineServiceFactory, post_form, submit

pytestmark = pytest.mark.django_db

#: Examples per target (derandomised: the same ones every run). 44 targets x 10 requests take
#: about 40 s on a busy 2-core machine; 150 random ones per target found nothing more.
EXAMPLES = 10
PORTAL = {"HTTP_HOST": "localhost"}

# --- Hostile values ---------------------------------------------------------------------------

SNIPPETS = ["\x00", "\x01", "\x7f", "\ud800", "\udfff", "\u202e", "\u202d", "\u200f",
            "\u200e", "\u2066", "\ufeff", "\u2028", "\ufffd", "\r\n", "\t", " ", "'", '"',
            "<script>", "../", "..\\", "%", "&", "=", ";", "+", "#", "?", "/", "ж", "𝔘", "٣",
            "ﷺ", "\u0301", "NULL", "{}", "[]", "*", "__", "-", "."]
NUMBERS = st.one_of(
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.sampled_from(["0", "-1", "-0", "1e309", "-1e309", "NaN", "inf", "1.5", "0x10", "١٢٣",
                     "2147483648", "9223372036854775807", "9223372036854775808",
                     "-9223372036854775809", "9" * 5000, "00000000001", " 1", "1 "]),
)
LONG = st.sampled_from(["a" * 10240, "ж" * 5120, "\u202e" * 3414, "\x00" * 10240,
                        "%" * 10240, "1" * 10240])
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates included
    st.lists(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=4)), max_size=8).map("".join),
)
VALUE = st.one_of(TEXT, NUMBERS, LONG)
#: Percent-encoding no decoder expects: truncated, non-hex, overlong, invalid UTF-8, and the
#: UTF-8 of a lone surrogate.
BROKEN = st.sampled_from(["%", "%z", "%zz", "%0", "%ff", "%fe%ff", "%c3%28", "%c0%af",
                          "%ed%a0%80", "%f4%90%80%80", "%e2%82", "%%", "%u202e", "%00",
                          "%2e%2e%2f", "+%"])


def wire(value):
    """How a client sends `value`: its UTF-8 bytes percent-encoded (a lone surrogate becomes
    the three bytes a careless client would send for it)."""
    return quote_from_bytes(value.encode("utf-8", "surrogatepass"), safe="")


ENCODED = st.one_of(VALUE.map(wire), st.tuples(VALUE.map(wire), BROKEN, VALUE.map(wire)).map(
    "".join))
PATH_SEGMENT = st.one_of(NUMBERS.map(wire), TEXT.filter(bool).map(wire), LONG.map(wire), BROKEN)


def query(names):
    """A query string (or form body) of known parameter names, sometimes repeated, sometimes
    an unknown or hostile name."""
    name = st.one_of(st.sampled_from(names), st.sampled_from(names),
                     TEXT.map(wire), BROKEN) if names else st.one_of(TEXT.map(wire), BROKEN)
    pair = st.tuples(name, ENCODED).map(lambda nv: f"{nv[0]}={nv[1]}")
    return st.one_of(st.lists(pair, min_size=1, max_size=4).map("&".join),
                     ENCODED, BROKEN)


# --- What is fuzzed ---------------------------------------------------------------------------

API_PAGE_FILTERS = ["type", "fields", "limit", "offset", "order", "search", "search_operator",
                    "locale", "translation_of", "child_of", "ancestor_of", "descendant_of",
                    "site", "id", "slug", "title", "show_in_menus", "seo_title",
                    "rich_text_format", "format", "_", "html_path", "processing_days", "fee",
                    "category", "life_events"]
FORM_FIELDS = [*GOOD_ANSWERS, *(f["name"] for f in FORM_SPEC), "home_0", "home_1", "home_2",
               "home_3", "assist-channel", "benefit_no"]


@dataclass(frozen=True)
class Target:
    """A URL pattern (`route`, as Django prints it) and how it is fuzzed: `path` with `{}`
    for a fuzzed segment, GET or POST with parameters drawn from `names`."""

    route: str
    path: str
    method: str = "GET"
    names: list = field(default_factory=list)
    host: dict = field(default_factory=lambda: NORTH)
    client: str = "citizen"  # or "operator": signed in to the console


TARGETS = [
    # A tenant's content site (Wagtail's page tree: home, catalogue, a service page, any path).
    Target("ru/^((?:[\\w\\-]+/)*)$", "/ru/", names=["feedback", "page", "q"]),
    Target("ru/^((?:[\\w\\-]+/)*)$", "/ru/services/", names=["life_event", "page"]),
    Target("ru/^((?:[\\w\\-]+/)*)$", "/ru/services/building-permit/", names=["feedback"]),
    Target("ru/^((?:[\\w\\-]+/)*)$", "/ru/{}/"),
    Target("ru/^((?:[\\w\\-]+/)*)$", "/ru/services/{}/"),
    Target("", "/", names=["next"]),  # redirected to the tenant's language
    Target("", "/{}"),
    Target("ru/search/", "/ru/search/", names=["q", "page"]),
    Target("feedback/", "/feedback/", "POST", names=["page", "useful", "comment"]),
    Target("ru/_util/login/", "/ru/_util/login/", names=["next"]),
    Target("ru/_util/login/", "/ru/_util/login/", "POST", names=["username", "password", "next"]),
    Target("ru/_util/authenticate_with_password/<int:page_view_restriction_id>/<int:page_id>/",
           "/ru/_util/authenticate_with_password/{}/3/", "POST", names=["password", "return_url"]),
    Target("^documents/(\\d{1,18})/(.*)$", "/documents/{}/x.pdf"),
    Target("^documents/(\\d{1,18})/(.*)$", "/documents/1/{}"),
    # Public media streamed from the tenant's S3 prefix (cms/media.py).
    Target("^media/(?P<name>.+)$", "/media/{}"),
    Target("^media/(?P<name>.+)$", "/media/original_images/{}"),
    Target("^media/(?P<name>.+)$", "/media/images/{}.fill-10x10.png"),
    Target("documents/authenticate_with_password/<int:restriction_id>/",
           "/documents/authenticate_with_password/{}/", "POST", names=["password", "return_url"]),
    # Online services: apply (GET and POST), check your answers, confirmation, payment.
    Target("ru/apply/<uslug:slug>/", "/ru/apply/building-permit/", names=["next"]),
    Target("ru/apply/<uslug:slug>/", "/ru/apply/building-permit/", "POST", names=FORM_FIELDS),
    Target("ru/apply/<uslug:slug>/", "/ru/apply/{}/"),
    Target("ru/apply/<uslug:slug>/check/", "/ru/apply/building-permit/check/", "POST",
           names=["draft"]),
    Target("ru/apply/<uslug:slug>/check/", "/ru/apply/{}/check/"),
    Target("ru/apply/<uslug:slug>/done/", "/ru/apply/building-permit/done/", names=["ref"]),
    Target("ru/pay/<uuid:token>/", "/ru/pay/{}/"),
    Target("ru/pay/<uuid:token>/", "/ru/pay/6f0c1d2e-8a7b-4c3d-9e8f-0a1b2c3d4e5f/", "POST",
           names=["outcome"]),
    # Tracking: reference, code, status, letter.
    Target("ru/track/", "/ru/track/", names=["reference"]),
    Target("ru/track/", "/ru/track/", "POST", names=["reference"]),
    Target("ru/track/code/", "/ru/track/code/", "POST", names=["code"]),
    Target("ru/track/status/", "/ru/track/status/", "POST", names=["message"]),
    Target("ru/track/letter/", "/ru/track/letter/"),
    # KPIs as open data: the page "How we are doing" and the API's filters.
    Target("ru/how-we-are-doing/", "/ru/how-we-are-doing/", names=["from", "page"]),
    Target("api/v1/kpis", "/api/v1/kpis",
           names=["from", "to", "granularity", "service", "category", "format"]),
    # The open API: listing with every filter, detail, find.
    Target("api/v2/^pages/", "/api/v2/pages/", names=API_PAGE_FILTERS),
    Target("api/v2/^pages/<int:pk>/", "/api/v2/pages/{}/", names=["fields", "type"]),
    Target("api/v2/^pages/find/", "/api/v2/pages/find/", names=["html_path", "id", "type"]),
    Target("api/v1/whoami", "/api/v1/whoami", names=["format"]),
    # Case work (services/api/cases.py): without a key a 401 problem; with one, its filters and
    # bodies are fuzzed in tests/test_api_cases.py.
    Target("api/v1/cases", "/api/v1/cases", names=["status", "service", "assignee", "sla",
                                                   "submitted_since", "cursor", "limit"]),
    Target("api/v1/cases/<str:reference>", "/api/v1/cases/{}"),
    Target("api/v1/cases/<str:reference>/transitions", "/api/v1/cases/{}/transitions", "POST",
           names=["transition", "expected_state"]),
    Target("api/v1/cases/<str:reference>/notes", "/api/v1/cases/{}/notes", "POST",
           names=["text"]),
    Target("api/v1/cases/<str:reference>/files/<uuid:file_id>",
           "/api/v1/cases/NRT-2026-000001/files/{}"),
    # Applications over the API (no key: refused before the body is read; the bodies an API
    # client sends are fuzzed in tests/test_api_applications.py).
    Target("api/v1/^services/(?P<slug>[-\\w]+)/applications$",
           "/api/v1/services/building-permit/applications", "POST", names=["answers"]),
    Target("api/v1/^services/(?P<slug>[-\\w]+)/applications$",
           "/api/v1/services/{}/applications", "POST", names=["answers"]),
    Target("api/v1/applications", "/api/v1/applications", names=["cursor", "limit"]),
    Target("api/v1/applications/<str:reference>", "/api/v1/applications/{}"),
    # The national portal and the operator console on the base domain.
    Target("", "/", names=["region", "page", "q"], host=PORTAL),
    Target("", "/{}", host=PORTAL),
    Target("operator/login/", "/operator/login/", "POST", names=["username", "password", "next"],
           host=PORTAL),
    Target("operator/password/<uidb64>/<token>/", "/operator/password/{}/set-password/", "POST",
           names=["new_password1", "new_password2"], host=PORTAL),
    Target("operator/password/<uidb64>/<token>/", "/operator/password/MQ/{}/", host=PORTAL),
    Target("operator/", "/operator/", names=["days", "sort"], host=PORTAL, client="operator"),
    Target("operator/tenants/<slug:slug>/", "/operator/tenants/{}/", names=["days"],
           host=PORTAL, client="operator"),
    Target("operator/tenants/<slug:slug>/", "/operator/tenants/north/", names=["days"],
           host=PORTAL, client="operator"),
    Target("operator/rollouts/", "/operator/rollouts/", names=["page"], host=PORTAL,
           client="operator"),
    Target("operator/rollouts/<int:pk>/", "/operator/rollouts/{}/", names=["status"],
           host=PORTAL, client="operator"),
    Target("operator/usage.csv", "/operator/usage.csv", names=["days"], host=PORTAL,
           client="operator"),
    Target("operator/logout/", "/operator/logout/", "POST", names=["next"], host=PORTAL),
    # Delegated administration, second factor, sessions and the audit log (issue 13).
    Target("operator/launch/", "/operator/launch/", names=["kind", "parent"], host=PORTAL,
           client="operator"),
    Target("operator/launch/", "/operator/launch/", "POST",
           names=["name", "slug", "kind", "parent", "admin_email", "language", "domain",
                  "reference_prefix", "time_zone"], host=PORTAL, client="operator"),
    Target("operator/tenants/<slug:slug>/<slug:action>/", "/operator/tenants/north/{}/",
           host=PORTAL, client="operator"),
    Target("operator/tenants/<slug:slug>/<slug:action>/", "/operator/tenants/north/archive/",
           "POST", names=["password", "confirm_slug"], host=PORTAL, client="operator"),
    Target("operator/tenants/<slug:slug>/<slug:action>/", "/operator/tenants/north/suspend/",
           "POST", names=["password"], host=PORTAL, client="operator"),
    # KPIs by level (tenants/console/kpis.py).
    Target("operator/kpis/", "/operator/kpis/",
           names=["days", "start", "end", "category", "region", "sort"], host=PORTAL,
           client="operator"),
    Target("operator/kpis/cost-model/", "/operator/kpis/cost-model/", "POST",
           names=["online", "office", "phone", "post", "unit", "valid_from", "note",
                  "password"], host=PORTAL, client="operator"),
    Target("operator/tenants/<slug:slug>/kpis/", "/operator/tenants/{}/kpis/", names=["days"],
           host=PORTAL, client="operator"),
    Target("operator/tenants/<slug:slug>/kpis/", "/operator/tenants/ryabinovka/kpis/",
           names=["days", "start", "end", "category", "sort"], host=PORTAL, client="operator"),
    Target("operator/tenants/<slug:slug>/population/", "/operator/tenants/north/population/",
           "POST", names=["population"], host=PORTAL, client="operator"),
    Target("operator/rollouts/<int:pk>/progress.json", "/operator/rollouts/{}/progress.json",
           host=PORTAL, client="operator"),
    Target("operator/rollouts/<int:pk>/halt/", "/operator/rollouts/{}/halt/", "POST",
           names=["reason"], host=PORTAL, client="operator"),
    Target("operator/rollouts/<int:pk>/resume/", "/operator/rollouts/{}/resume/", "POST",
           host=PORTAL, client="operator"),
    Target("operator/audit/", "/operator/audit/",
           names=["kind", "actor", "since", "until", "page", "format"], host=PORTAL,
           client="operator"),
    Target("operator/assessment/", "/operator/assessment/", names=["tenant"], host=PORTAL,
           client="operator"),
    Target("operator/two-factor/", "/operator/two-factor/", "POST",
           names=["action", "password", "device"], host=PORTAL, client="operator"),
    Target("operator/two-factor/verify/", "/operator/two-factor/verify/", "POST",
           names=["token", "otp_token", "next"], host=PORTAL, client="operator"),
    Target("operator/two-factor/add/", "/operator/two-factor/add/", "POST",
           names=["token", "name"], host=PORTAL, client="operator"),
    Target("operator/sessions/", "/operator/sessions/", "POST", names=["session", "all"],
           host=PORTAL, client="operator"),
    # The national catalogue (tenants/catalogue/): the service finder, its API and document.
    Target("services/", "/services/", names=["q", "life_event", "territory", "online", "page"],
           host=PORTAL),
    Target("api/v1/catalogue/services", "/api/v1/catalogue/services",
           names=["q", "life_event", "territory", "online", "language", "page", "page_size"],
           host=PORTAL),
    Target("api/v1/openapi.json", "/api/v1/openapi.json", names=["lang", "format", "version"],
           host=PORTAL),
    # Prometheus metrics (dgbox/metrics/views.py): query strings are ignored, never a 5xx.
    Target("metrics", "/metrics", names=["name[]", "format"], host=PORTAL),
    Target("metrics", "/metrics", names=["name[]", "format"]),  # a tenant's host: 404
]

#: URL patterns not fuzzed here, and why.
NOT_FUZZED = {
    "admin/": "the Wagtail admin (staff only; Wagtail's own test suite covers its views)",
    "api/v1/": "the versioned open API: schemathesis fuzzes every operation of its OpenAPI "
               "document on a live server, valid and invalid input (tests/test_api_contract.py)",
}


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def test_every_public_url_pattern_is_fuzzed():
    fuzzed = {t.route for t in TARGETS}
    missing = []
    for module in ("dgbox.urls_tenant", "dgbox.urls_public"):
        # Language-prefixed routes print the active language's prefix: the tenants' own.
        with translation.override("ru"):
            routes = list(_routes(importlib.import_module(module).urlpatterns))
        for route in routes:
            if route not in fuzzed and not any(route.startswith(p) for p in NOT_FUZZED):
                missing.append(route)
    assert not missing, f"URL patterns no fuzz target covers: {missing}"


# --- The journey the fuzzed requests start from -----------------------------------------------

_ADDRESSES = itertools.count(random.SystemRandom().randrange(1 << 24))


@pytest.fixture
def clients(tenant_a, django_capture_on_commit_callbacks):
    """A citizen with a draft (its file kept, so fuzzed answers reach the draft), a submitted
    case being tracked (a code sent), and a signed-in operator."""
    with tenant_context(tenant_a):
        OnlineServiceFactory()
    connection.set_schema_to_public()
    # An address of its own: the tracking limits count requests per client address.
    n = next(_ADDRESSES)
    citizen = Client(REMOTE_ADDR=f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(citizen).status_code == 302
        submit(citizen)
        reference = citizen.session["dgbox_done"]
        reference = next(iter(reference.values()))
        assert citizen.post("/ru/track/", {"reference": reference}, **NORTH).status_code == 302
        assert post_form(citizen).status_code == 302  # a new draft for the apply fuzzing
    operator = Client()
    user = get_user_model().objects.create_user("fuzz-operator", "op@gov.example", "x" * 20,
                                                is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_tenant",
                                                     content_type__app_label="tenants"))
    operator.force_login(user)
    return {"citizen": citizen, "operator": operator}


def _send(client, target, segment, data):
    path = target.path.format(segment) if "{}" in target.path else target.path
    if target.method == "GET":
        return client.generic("GET", path, QUERY_STRING=data, **target.host)
    return client.generic("POST", path, data.encode("latin-1"),
                          content_type="application/x-www-form-urlencoded", **target.host)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: f"{t.method} {t.path}")
def test_hostile_input_never_gets_a_server_error(clients, target):
    client = clients[target.client]
    # One Hypothesis run per target; the client (its session, draft and tracked case) and the
    # database transaction are shared by the examples, as for a visitor sending them in a row.
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(segment=PATH_SEGMENT, data=query(target.names))
    def fuzz(segment, data):
        response = _send(client, target, segment, data)
        assert response.status_code < 500, (response.status_code, segment[:200], data[:200])

    fuzz()
