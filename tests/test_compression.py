"""The application compresses what it may (dgbox.middleware.CompressionMiddleware): public
responses when the client accepts gzip, never a response to a request that carries a session
cookie (BREACH). Served through the real server: tests/test_page_weight.py."""

import gzip

import pytest

pytestmark = pytest.mark.django_db


def test_public_pages_and_the_api_are_gzipped_when_accepted(client, session_tenants):
    page = client.get("/ru/", HTTP_HOST="north.localhost", HTTP_ACCEPT_ENCODING="gzip, br")
    assert page.status_code == 200 and page["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page["Vary"]
    assert "Северная область" in gzip.decompress(page.content).decode()
    api = client.get("/api/v2/pages/", HTTP_HOST="north.localhost",
                     HTTP_ACCEPT_ENCODING="gzip")
    assert api.status_code == 200 and api["Content-Encoding"] == "gzip"
    plain = client.get("/ru/", HTTP_HOST="north.localhost")
    assert not plain.has_header("Content-Encoding")


def test_nothing_is_compressed_for_a_request_with_a_session(client, session_tenants):
    client.cookies["sessionid"] = "anything"
    page = client.get("/ru/", HTTP_HOST="north.localhost", HTTP_ACCEPT_ENCODING="gzip")
    assert page.status_code == 200 and not page.has_header("Content-Encoding")
