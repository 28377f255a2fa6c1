"""Contract fuzzing of /api/v1/ (issue 16): schemathesis reads the LIVE OpenAPI document of a
real HTTP server on 127.0.0.1 (the whole WSGI stack: tenant routing by Host, middleware,
views) and sends every operation it describes generated requests, valid and invalid
(schemathesis's positive and negative modes). Each answer must not be a 5xx, must have a
status code, content type, headers and body the document declares for that operation.

The operations are discovered from the document, so what other modules add to /api/v1/ is
fuzzed with no change here. Requests carry the key of an API client holding every scope (its
service account a member of staff), so scoped operations are exercised too, on a tenant of
this module's own ("contract"), so what fuzzing creates lands nowhere else.

Deterministic: Hypothesis derandomised, a fixed number of examples per operation, no example
database.
"""

import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.api.models import ApiClient
from services.api.scopes import Scope
from tenants.models import Domain, Tenant

from .factories import OnlineServiceFactory, launch

#: The server's threads read the database while the tests run.
pytestmark = pytest.mark.django_db

HOST = "contract.localhost"
#: Generated requests per operation and mode (7 operations x 2 modes x 15 requests).
EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def contract_server(django_db_setup, django_db_blocker, session_tenants):
    """A tenant of its own (committed: the server's threads use their own connections), an
    API client with every scope, and the WSGI application on a loopback port."""
    from demo.site import populate

    with django_db_blocker.unblock():
        tenant = launch("Контрактная", slug="contract", admin_email="admin@contract.example"
                        ).tenant
        with tenant_context(tenant):
            populate("ru")
            OnlineServiceFactory()
            account = get_user_model().objects.create_user(
                "api-contract", "api-contract@contract.example", None, is_staff=True)
            # A limit no run reaches: fuzzing is about the contract, not about 429s.
            client = ApiClient.objects.create(name="Контракт", scopes=list(Scope.values),
                                              service_user=account, rate_per_minute=1_000_000)
            _, key = client.issue_key()
        connection.set_schema_to_public()
    httpd = make_server("127.0.0.1", 0, WSGIHandler(), server_class=ThreadedWSGIServer,
                        handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"base_url": f"http://127.0.0.1:{httpd.server_port}",
           "headers": {"Host": HOST, "Authorization": f"Bearer {key}"}}
    httpd.shutdown()
    httpd.server_close()
    # The request threads kept their connections: end them so the test database can be
    # dropped at the end of the session. Then the tenant goes, so that later tests see only
    # the session's tenants (as tests/conftest.py's `committed` drops its tenants).
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                           "AND application_name NOT LIKE 'celery%%'")
            cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
        Domain.objects.filter(tenant=tenant).delete()
        Tenant.objects.filter(pk=tenant.pk).delete()


@pytest.fixture(scope="module")
def live_document(contract_server, django_db_blocker):
    """The document as the server serves it on the tenant's host."""
    with django_db_blocker.unblock():  # the server finds the tenant in the database
        return schemathesis.openapi.from_url(
            f"{contract_server['base_url']}/api/v1/openapi.json", headers={"Host": HOST},
            timeout=60)


def test_the_live_document_describes_the_public_operations(live_document):
    paths = {operation.ok().path for operation in live_document.get_all_operations()}
    assert {"/api/v1/services", "/api/v1/services/{id}", "/api/v1/offices",
            "/api/v1/news"} <= paths


# schemathesis.pytest.from_fixture cannot be used: its lazy parametrisation writes a pytest
# node attribute that pytest 9 removed. The operations are iterated here instead, each with
# its own derandomised Hypothesis run; every failure is collected, then reported together.
def test_every_operation_keeps_its_contract(live_document, contract_server):
    operations = [result.ok() for result in live_document.get_all_operations()]
    failures, runs = [], 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.explicit, Phase.generate])
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                case.call_and_validate(base_url=contract_server["base_url"],
                                       headers=contract_server["headers"], checks=CHECKS,
                                       timeout=60)

            runs += 1
            try:
                fuzz()
            except Unsatisfiable:
                # Nothing in the operation can be made invalid (no parameters, no body, or
                # only free-text headers); valid requests must always be possible.
                if mode == GenerationMode.POSITIVE:
                    failures.append(f"{operation.label}: no valid request can be generated")
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    assert runs >= 2 * 7, runs
    assert not failures, "\n\n".join(failures)
