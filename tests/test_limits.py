"""One client identity and atomic limits (infra/clientip.py, tenants/limits.py, cms/throttles.py).

- The client's address is REMOTE_ADDR unless proxies are trusted; then the entry the
  outermost trusted proxy appended to X-Forwarded-For, never one the client wrote.
- Limits are counted atomically in a real Redis: threads sending at once get exactly the
  limit through, however many they are.
- A forged X-Forwarded-For neither resets a client's limit nor spends somebody else's.
- Noisy neighbour: one tenant over its own limit answers 429 with Retry-After
  (problem+json on the API, an accessible page on the apply form); another tenant is not
  affected.
- Password resets on the staff sign-in are limited per client and per e-mail address.
"""

import threading

import pytest
from django.core import mail
from django.db import connection
from django.test import Client, RequestFactory
from django_tenants.utils import tenant_context

from infra.clientip import client_address
from tenants import limits

from .factories import NORTH, SOUTH, OnlineServiceFactory, StaffFactory

pytestmark = pytest.mark.usefixtures("fresh_counters")
API = "/api/v2/pages/"
#: Windows far longer than any test run, so that no window ends mid-test (the counters are
#: fixed windows aligned on multiples of their length).
LONG = "{}/3650d"


def rest_framework(client_rate):
    from django.conf import settings

    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": client_rate}}


# --- The client's address ----------------------------------------------------------------------

@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, None, "10.0.0.9"),
    (0, "203.0.113.7", "10.0.0.9"),             # no proxy trusted: the header is never read
    (1, None, "10.0.0.9"),                      # not through the proxy: the peer
    (1, "203.0.113.7", "203.0.113.7"),
    (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # what the client wrote is left of it
    (1, "6.6.6.6, not-an-address", "10.0.0.9"),  # never skipped for the client's entry
    (1, "2001:db8::5", "2001:db8::5"),
    (2, "6.6.6.6, 203.0.113.7, 10.1.0.1", "203.0.113.7"),
    (2, "203.0.113.7", "10.0.0.9"),             # fewer entries than proxies: the peer
])
def test_the_client_address_trusts_only_the_configured_proxies(settings, proxies, forwarded,
                                                               expected):
    settings.DGBOX_TRUSTED_PROXIES = proxies
    meta = {"REMOTE_ADDR": "10.0.0.9"}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_address(RequestFactory().get("/", **meta)) == expected


def test_rates_are_read_as_written():
    assert limits.parse_rate("600/minute") == limits.Rate(600, 60)
    assert limits.parse_rate("5/hour") == limits.Rate(5, 3600)
    assert limits.parse_rate("100/10s") == limits.Rate(100, 10)
    for wrong in ("", "0/minute", "many/minute", "5/fortnight"):
        with pytest.raises(ValueError, match="not a rate"):
            limits.parse_rate(wrong)


# --- Atomic: threads at once get exactly the limit through ------------------------------------

def _at_once(count, request):
    """`count` threads, each sending `request()` twice as soon as all are ready; the
    status codes."""
    barrier = threading.Barrier(count)
    codes, errors = [], []

    def send():
        from django.db import connections

        try:
            barrier.wait(30)
            for _ in range(2):
                codes.append(request())
        except Exception as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return sorted(codes)


@pytest.mark.django_db(transaction=False)
def test_the_api_limit_holds_under_concurrent_requests(session_tenants, redis_counters,
                                                       settings):
    settings.REST_FRAMEWORK = rest_framework(LONG.format(5))
    settings.DGBOX_TENANT_API_RATES = {}

    def call():
        return Client().get(API, REMOTE_ADDR="198.51.100.1", **NORTH).status_code

    assert _at_once(16, call) == [200] * 5 + [429] * 27


@pytest.mark.django_db(transaction=False)
def test_a_forged_forwarded_header_neither_resets_nor_spends_a_limit(
        session_tenants, redis_counters, settings):
    """Behind one trusted proxy (REMOTE_ADDR is the proxy): the attacker writes a new
    X-Forwarded-For on every call, and one naming the victim; the proxy appends the real
    address. The attacker is refused after its 3 calls, the victim still has all of its own."""
    settings.REST_FRAMEWORK = rest_framework(LONG.format(3))
    settings.DGBOX_TENANT_API_RATES = {}
    settings.DGBOX_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2", **NORTH}
    attacker, victim = "203.0.113.66", "198.51.100.20"
    client = Client()
    forged = [f"192.0.2.{n}, {attacker}" for n in range(5)] + [f"{victim}, {attacker}"]
    codes = [client.get(API, HTTP_X_FORWARDED_FOR=header, **proxy).status_code
             for header in forged]
    assert codes == [200, 200, 200, 429, 429, 429]
    assert [client.get(API, HTTP_X_FORWARDED_FOR=victim, **proxy).status_code
            for _ in range(4)] == [200, 200, 200, 429]


@pytest.mark.django_db(transaction=False)
def test_without_trusted_proxies_the_header_is_ignored(session_tenants, redis_counters,
                                                       settings):
    settings.REST_FRAMEWORK = rest_framework(LONG.format(2))
    settings.DGBOX_TENANT_API_RATES = {}
    client = Client()
    codes = [client.get(API, REMOTE_ADDR="198.51.100.30", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
                        **NORTH).status_code for n in range(3)]
    assert codes == [200, 200, 429]


# --- Noisy neighbour: per-tenant limits --------------------------------------------------------

@pytest.mark.django_db(transaction=False)
def test_a_tenant_over_its_api_limit_answers_429_and_another_tenant_does_not(
        session_tenants, redis_counters, settings):
    settings.REST_FRAMEWORK = rest_framework(LONG.format(1000))
    settings.DGBOX_TENANT_API_RATES = {"region": LONG.format(4)}
    # Many clients together (each far under its own limit) saturate the tenant.
    codes = [Client().get(API, REMOTE_ADDR=f"198.51.100.{n}", **NORTH).status_code
             for n in range(6)]
    assert codes == [200] * 4 + [429] * 2
    refused = Client().get(API, REMOTE_ADDR="198.51.100.99", HTTP_ACCEPT_LANGUAGE="en",
                           **NORTH)
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert int(refused["Retry-After"]) > 0
    problem = refused.json()
    assert problem["status"] == 429 and problem["title"] and problem["detail"]
    # The other tenant (also a region) has its own count.
    assert [Client().get(API, REMOTE_ADDR=f"198.51.100.{n}", **SOUTH).status_code
            for n in range(4)] == [200] * 4


@pytest.mark.django_db(transaction=False)
def test_tenant_limits_follow_the_tenant_kind(session_tenants, redis_counters, settings):
    settings.REST_FRAMEWORK = rest_framework(LONG.format(1000))
    settings.DGBOX_TENANT_API_RATES = {"municipality": LONG.format(1)}
    municipality = {"HTTP_HOST": "ryabinovka.localhost"}
    assert [Client().get(API, **municipality).status_code for _ in range(2)] == [200, 429]
    # Regions have no limit of their kind here.
    assert [Client().get(API, **NORTH).status_code for _ in range(3)] == [200] * 3


@pytest.mark.django_db
def test_a_tenant_over_its_apply_limit_gets_the_429_page_and_another_does_not(
        client, tenant_a, tenant_b, settings):
    settings.DGBOX_TENANT_APPLY_RATES = {"region": LONG.format(2)}
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            OnlineServiceFactory(slug="street-trading")
    connection.set_schema_to_public()
    url = "/ru/apply/street-trading/"
    assert [client.get(url, **NORTH).status_code for _ in range(2)] == [200, 200]
    refused = client.get(url, **NORTH)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "no-store" in refused["Cache-Control"]
    page = refused.content.decode()
    assert 'lang="ru"' in page and '<main class="govuk-main-wrapper"' in page
    assert "<h1" in page
    # The incident reference is the request's id (on its log lines too, tests/test_headers.py).
    assert 'id="incident-reference"' in page
    assert refused["X-Request-ID"] in page.replace("<wbr>", "")
    assert client.get(url, **SOUTH).status_code == 200


@pytest.mark.django_db(transaction=False)
def test_without_redis_the_api_and_apply_limits_let_requests_through(
        session_tenants, redis_counters, settings, caplog):
    settings.REST_FRAMEWORK = rest_framework(LONG.format(1))
    settings.DGBOX_TENANT_API_RATES = {"region": LONG.format(1)}
    redis_counters.stop()
    codes = [Client().get(API, **NORTH).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    assert "Limit not enforced, the counters cannot be reached" in caplog.text


# --- Password reset on the staff sign-in ------------------------------------------------------

@pytest.mark.django_db
def test_password_resets_are_limited_per_client_and_per_email(client, tenant_a, settings):
    settings.DGBOX_PASSWORD_RESET_RATE = LONG.format(2)
    with tenant_context(tenant_a):
        StaffFactory(username="clerk", email="clerk@north.example")
    connection.set_schema_to_public()
    url = "/admin/password_reset/"
    sent = [client.post(url, {"email": "clerk@north.example"}, REMOTE_ADDR=f"192.0.2.{n}",
                        **NORTH).status_code for n in range(3)]
    assert sent == [302, 302, 429]  # per e-mail address, whichever device asks
    assert len(mail.outbox) == 2
    others = [client.post(url, {"email": f"nobody{n}@north.example"},
                          REMOTE_ADDR="192.0.2.50", **NORTH).status_code for n in range(3)]
    assert others == [302, 302, 429]  # per device, whichever address it names
    refused = client.post(url, {"email": "clerk@north.example"}, **NORTH)
    assert refused.status_code == 429 and "Retry-After" in refused
    assert client.get(url, **NORTH).status_code == 200  # the form itself is never refused


@pytest.mark.django_db(transaction=False)
def test_password_resets_are_refused_while_their_limit_cannot_be_counted(
        session_tenants, redis_counters):
    redis_counters.stop()
    refused = Client().post("/admin/password_reset/", {"email": "admin@north.example"},
                            **NORTH)
    assert refused.status_code == 503 and refused["Retry-After"] == "60"
    assert mail.outbox == []
