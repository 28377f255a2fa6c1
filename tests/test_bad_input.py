"""Bad input gets a clear 400, never a 500 (issue 14): NUL bytes and control characters in
the address or the query string, and the API's search operator (over-long values are
cut by the views that read them: tests/test_cms_site.py). Form
fields (POST) are checked by the forms themselves: Django's CharField refuses NUL."""

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/ru/search/?q=%00", "/ru/search/?q=a%01b", "/ru/services/?life_event=%00",
         "/ru/track/?reference=%00", "/ru/%00/", "/ru/search/?q%00=a"]
API = [("/api/v2/pages/?search=%00", "search"), ("/api/v2/pages/find/?html_path=/%00", "html_path"),
       ("/api/v2/pages/?fields=%00", "fields"), ("/api/v2/pages/?type=cms.%00", "type")]


@pytest.mark.parametrize("url", PAGES)
def test_pages_refuse_control_characters_with_a_page_in_the_sites_language(
        client, tenant_a, url):
    response = client.get(url, HTTP_HOST="north.localhost")
    assert response.status_code == 400
    body = response.content.decode()
    assert '<html lang="ru"' in body
    assert "недопустимый символ" in body


@pytest.mark.parametrize(("url", "parameter"), API)
def test_api_refuses_control_characters_as_problem_json(client, tenant_a, url, parameter):
    response = client.get(url, HTTP_HOST="north.localhost")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert f"{parameter}" in problem["detail"], problem


def test_ordinary_queries_still_work(client, tenant_a):
    assert client.get("/ru/search/", {"q": "ребёнок\tмама"},
                      HTTP_HOST="north.localhost").status_code == 200
    assert client.get("/api/v2/pages/", {"search": "паспорт", "search_operator": "or"},
                      HTTP_HOST="north.localhost").status_code == 200


def test_an_unknown_search_operator_is_a_400_naming_it(client, tenant_a):
    response = client.get("/api/v2/pages/", {"search": "a", "search_operator": "x"},
                          HTTP_HOST="north.localhost")
    assert response.status_code == 400
    assert "search_operator" in response.json()["message"]


@pytest.mark.parametrize("ident", ["", "abc", "-1", "1.5", "٣", "9" * 5000])
def test_api_find_with_a_bad_id_is_a_400(client, tenant_a, ident):
    """Found by tests/test_fuzz.py: Wagtail handed `?id=` to the database unchecked (500)."""
    response = client.get("/api/v2/pages/find/", {"id": ident}, HTTP_HOST="north.localhost")
    assert response.status_code == 400
    assert "id" in response.json()["message"]


def test_a_document_id_too_long_for_a_number_is_a_404(client, tenant_a):
    """Found by tests/test_fuzz.py: Wagtail's `\\d+` passed a 5,000-digit id on (500)."""
    response = client.get(f"/documents/{'9' * 5000}/x.pdf", HTTP_HOST="north.localhost")
    assert response.status_code == 404
