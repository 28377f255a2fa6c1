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
