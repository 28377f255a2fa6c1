"""`GET /api/v1/catalogue/services` on the base domain: the national catalogue as JSON, in the
style of the tenants' /api/v1/ (problem JSON errors, page pagination, ETag and
Cache-Control), and its OpenAPI 3.1 document at /api/v1/openapi.json (drf-spectacular, from
these views only: `api_urls.py`). The committed copy is docs/api/openapi-national-v1.yaml,
written by `dgbox catalogue openapi` and compared with the code by a test.

Errors are problem JSON because the views say `problem_json = True`: the project's REST
framework exception handler (dgbox/settings/base.py) answers them so, whatever raised them.
"""

import hashlib
import json
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.http import HttpRequest
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import patched_settings
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework import serializers  # type: ignore[import-untyped]
from rest_framework.request import Request  # type: ignore[import-untyped]
from rest_framework.response import Response  # type: ignore[import-untyped]
from rest_framework.views import APIView  # type: ignore[import-untyped]

from tenants.models import CatalogueEntry

from .query import COUNT_CAP, QUERY_MAX, FilterError, Filters, facets, matching, rows_and_total

PROBLEM = "application/problem+json"
#: Seconds a client or a shared cache may reuse an answer (publishing shows within a minute).
MAX_AGE = 60
PAGE_SIZE = 20
PAGE_SIZE_MAX = 100
#: Deeper pages are refused: nobody reads them, and OFFSET costs grow with the page.
PAGE_MAX = 500

SCHEMA_SETTINGS: dict[str, Any] = {
    "TITLE": "dgbox national catalogue API",
    "DESCRIPTION": (
        "Every active region's and municipality's published services, searchable in one "
        "place, on the platform's base domain. Read-only and public: no key. Errors are "
        "`application/problem+json` (RFC 9457)."),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}


class Problem(serializers.Serializer):
    """An error (RFC 9457)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   required=False,
                                   help_text="Field name -> what is wrong with it.")


class SearchParameters(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=QUERY_MAX,
                              help_text="Words to find, in Russian or English (any form of "
                                        "a word: 'паспорта' finds 'паспорт'). Quotes for a "
                                        "phrase, '-' to exclude a word, 'or' between "
                                        "alternatives.")
    life_event = serializers.SlugField(required=False, allow_blank=True, max_length=64,
                                       help_text="A life event code (national register).")
    territory = serializers.SlugField(required=False, allow_blank=True, max_length=63,
                                      help_text="A tenant's slug: a region includes its "
                                                "municipalities.")
    online = serializers.BooleanField(required=False, allow_null=True, default=None,
                                      help_text="true: only services one can apply for "
                                                "online now; false: only the others.")
    language = serializers.ChoiceField(required=False, allow_blank=True, choices=["ru", "en"],
                                       help_text="Only pages in this language.")
    facets = serializers.BooleanField(required=False, default=False,
                                      help_text="true: also count all matches by life event "
                                                "and by online (costs one more pass over "
                                                "the matches).")
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=PAGE_MAX)
    page_size = serializers.IntegerField(required=False, default=PAGE_SIZE, min_value=1,
                                         max_value=PAGE_SIZE_MAX)


class TenantRef(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["region", "municipality"])


class Service(serializers.Serializer):
    tenant = TenantRef(help_text="Who provides the service.")
    region = TenantRef(help_text="The region it is in (the tenant itself for a region).")
    page_id = serializers.IntegerField(help_text="The page's id on the tenant's site.")
    language = serializers.CharField()
    title = serializers.CharField()
    summary = serializers.CharField()
    url = serializers.URLField(help_text="The service's page on the tenant's site.")
    life_events = serializers.ListField(child=serializers.CharField())
    categories = serializers.ListField(child=serializers.CharField())
    online = serializers.BooleanField(help_text="One can apply online now.")
    updated_at = serializers.DateTimeField(allow_null=True,
                                           help_text="When the page was last published.")


class Facets(serializers.Serializer):
    life_event = serializers.DictField(child=serializers.IntegerField(),
                                       help_text="Matches per life event code.")
    online = serializers.DictField(child=serializers.IntegerField(),
                                   help_text='Matches available online ("true") or not.')


class ServiceList(serializers.Serializer):
    count = serializers.IntegerField(help_text=f"Matches, counted up to {COUNT_CAP:,}.")
    count_exact = serializers.BooleanField(
        help_text=f"false: there are more than {COUNT_CAP:,} matches (count is {COUNT_CAP:,}; "
                  "follow next while it is given).")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = Service(many=True)
    facets = Facets(allow_null=True, help_text="With facets=true: counts of all matches "
                                               "(every page) by filter value; else null.")


def _tenant(tenant: Any) -> dict[str, str]:
    return {"slug": tenant.slug, "name": tenant.name, "kind": tenant.kind}


def _service(entry: CatalogueEntry) -> dict[str, Any]:
    return {"tenant": _tenant(entry.tenant), "region": _tenant(entry.region),
            "page_id": entry.page_id, "language": entry.language, "title": entry.title,
            "summary": entry.summary, "url": entry.url, "life_events": entry.life_events,
            "categories": entry.categories, "online": entry.online,
            "updated_at": entry.updated_at.isoformat() if entry.updated_at else None}


def _link(request: HttpRequest, params: dict[str, Any], page: int) -> str:
    query = {k: ("true" if v is True else "false" if v is False else v)
             for k, v in {**params, "page": page}.items()
             if v not in (None, "") and not (k == "facets" and v is False)}
    return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")


class NationalV1:
    """What the base domain's /api/v1/ views share: public (no key), problem JSON errors."""

    problem_json = True
    authentication_classes: ClassVar[list[Any]] = []
    schema = AutoSchema()


class ServicesSchema(AutoSchema):
    """The operation's documentation. Said here, not with @extend_schema: that decorator
    builds on REST framework's DEFAULT_SCHEMA_CLASS, which the tenants' API settles."""

    def get_operation_id(self) -> str:
        return "catalogue_services_list"

    def get_tags(self) -> list[str]:
        return ["catalogue"]

    def get_override_parameters(self) -> list[Any]:
        return [SearchParameters]

    def get_response_serializers(self) -> Any:
        return {
            200: ServiceList,
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)."),
            (400, PROBLEM): OpenApiResponse(Problem, description="A parameter is wrong."),
            (429, PROBLEM): OpenApiResponse(Problem, description="Too many requests."),
        }


class CatalogueServices(NationalV1, APIView):
    """Search every active tenant's published services: by words (Russian and English, any
    form of a word), life event, territory (a region with its municipalities) and available
    online; best matches first, a page at a time, with counts by life event and by online."""

    schema = ServicesSchema()

    def get(self, request: Request) -> Response:
        params = SearchParameters(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters = Filters(q=data.get("q", ""), life_event=data.get("life_event", ""),
                          territory=data.get("territory", ""), online=data.get("online"),
                          language=data.get("language", ""))
        try:
            found, query = matching(filters)
        except FilterError as err:
            raise serializers.ValidationError({err.code or "filter": err.messages}) from err
        size, number = data["page_size"], data["page"]
        rows, count, exact = rows_and_total(found, query, number, size, ("tenant", "region"))
        results = [_service(e) for e in rows]
        body = {
            "count": count, "count_exact": exact, "page": number, "page_size": size,
            "next": (_link(request, data, data["page"] + 1)
                     if (number * size < count or (not exact and len(rows) == size))
                     and number < PAGE_MAX else None),
            "previous": (_link(request, data, data["page"] - 1)
                         if data["page"] > 1 and count else None),
            "results": results,
            "facets": facets(found) if data["facets"] else None,
        }
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        etag = f'"{digest[:32]}"'
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE}"}
        if etag in request.headers.get("If-None-Match", ""):
            return Response(status=304, headers=headers)
        return Response(body, headers=headers)


class NationalOpenApi(NationalV1, SpectacularJSONAPIView):
    """The OpenAPI 3.1 document of the base domain's /api/v1/ (made once per process)."""

    urlconf = "tenants.catalogue.api_urls"
    custom_settings = SCHEMA_SETTINGS
    schema = None  # type: ignore[assignment]  # not part of its own document
    _document: ClassVar[dict[str, Any] | None] = None

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # drf-spectacular's own get() also switches language on ?lang=; the document is
        # the same in every language, so that parameter is not honoured.
        if NationalOpenApi._document is None:
            NationalOpenApi._document = document()
        response = Response(NationalOpenApi._document)
        response["Cache-Control"] = f"public, max-age={MAX_AGE}"
        return response


def document() -> dict[str, Any]:
    """The OpenAPI document as a dict (also written by `dgbox catalogue openapi`)."""
    with patched_settings(SCHEMA_SETTINGS):
        generator = SpectacularJSONAPIView.generator_class(urlconf=NationalOpenApi.urlconf)
        schema: dict[str, Any] = generator.get_schema(  # type: ignore[no-untyped-call]
            request=None, public=True)
    return schema

