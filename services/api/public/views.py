"""The public read-only endpoints: lists (filtered, cursor-paginated) and single items of the
service catalogue, offices and news. Successful answers carry `Cache-Control` and an ETag
computed from the body; a request whose If-None-Match matches gets a 304 with no body."""

from functools import partial

from django.utils.cache import get_conditional_response, patch_vary_headers, set_response_etag
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics

from ..base import V1
from . import query
from .filters import CommonFilters, ServiceFilters, read
from .pagination import PublicCursor
from .serializers import NewsSerializer, OfficeSerializer, ServiceSerializer

#: How long clients and shared caches may reuse an answer without asking again (seconds).
MAX_AGE = 60

ID_PARAMETER = OpenApiParameter(
    "id", {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999},
    OpenApiParameter.PATH, description=_("The page's number (the `id` of a list item)."))
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, required=False,
    description=_("The ETag of an answer you kept: 304 Not Modified when nothing changed."))
CACHE_HEADERS = [
    OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200],
                     description=_("Changes when the body does.")),
    OpenApiParameter("Cache-Control", str, OpenApiParameter.HEADER, response=[200]),
]
NOT_MODIFIED = OpenApiResponse(description=_("Not modified: the ETag in If-None-Match is "
                                             "still current."))


def _conditional(request, response):
    """Set the body's ETag and answer 304 when the client already has it (run after
    rendering)."""
    set_response_etag(response)
    return get_conditional_response(request, etag=response["ETag"], response=response)


class PublicView(V1, generics.GenericAPIView):
    """Read-only, open without a key; a sent key is still checked (a wrong one is a 401)."""

    pagination_class = PublicCursor
    lookup_url_kwarg = "id"
    filters_class = CommonFilters
    rich_text: tuple[str, ...] = ()
    search_fields: tuple[str, ...] = ("title", "summary")

    def filter_queryset(self, queryset):
        if "id" in self.kwargs:  # one item: the list's filters do not apply
            return queryset
        filters = read(self.filters_class, self.request)
        queryset = query.common_filters(queryset, locale=filters.get("locale"),
                                        updated_since=filters.get("updated_since"))
        if filters.get("q"):
            queryset = query.text_search(queryset, filters["q"], *self.search_fields)
        return self.more_filters(queryset, filters)

    def more_filters(self, queryset, filters):
        return queryset

    def get_serializer(self, *args, **kwargs):
        pages = args[0] if args else None
        if pages is not None and self.rich_text:
            query.expand_rich_text(pages if isinstance(pages, list) else [pages], self.rich_text)
        return super().get_serializer(*args, **kwargs)

    def get(self, request, *args, **kwargs):
        if "id" in kwargs:
            return generics.RetrieveAPIView.retrieve(self, request, *args, **kwargs)
        return generics.ListAPIView.list(self, request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("GET", "HEAD") and response.status_code == 200:
            visibility = "private" if request.auth is not None else "public"
            response["Cache-Control"] = f"{visibility}, max-age={MAX_AGE}"
            patch_vary_headers(response, ["Accept", "Authorization"])
            response.add_post_render_callback(partial(_conditional, request._request))
        return response


def _list_schema(serializer, filters, description):
    return extend_schema(
        parameters=[filters, IF_NONE_MATCH, *CACHE_HEADERS], description=description,
        responses={200: serializer(many=True), 304: NOT_MODIFIED})


def _detail_schema(serializer, description):
    return extend_schema(
        parameters=[ID_PARAMETER, IF_NONE_MATCH, *CACHE_HEADERS], description=description,
        responses={200: serializer, 304: NOT_MODIFIED})


class ServiceList(PublicView):
    serializer_class = ServiceSerializer
    filters_class = ServiceFilters
    rich_text = ("who_can_apply", "legal_basis")

    def get_queryset(self):
        return query.services(self.request._request)

    def more_filters(self, queryset, filters):
        return query.filter_services(queryset, life_event=filters.get("life_event"),
                                     category=filters.get("category"),
                                     online=filters.get("online"))

    @_list_schema(ServiceSerializer, ServiceFilters, _(
        "The site's public services, in both languages unless `locale` is given, by id."))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ServiceDetail(ServiceList):
    @_detail_schema(ServiceSerializer, _("One public service."))
    def get(self, request, *args, **kwargs):
        return PublicView.get(self, request, *args, **kwargs)


class OfficeList(PublicView):
    serializer_class = OfficeSerializer
    search_fields = ("title", "address")

    def get_queryset(self):
        return query.offices(self.request._request)

    @_list_schema(OfficeSerializer, CommonFilters, _(
        "The site's offices with their opening hours and the days they keep other hours, by "
        "id."))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class OfficeDetail(OfficeList):
    @_detail_schema(OfficeSerializer, _("One office."))
    def get(self, request, *args, **kwargs):
        return PublicView.get(self, request, *args, **kwargs)


class NewsCursor(PublicCursor):
    ordering = ("-date", "-id")


class NewsList(PublicView):
    serializer_class = NewsSerializer
    pagination_class = NewsCursor
    rich_text = ("body",)

    def get_queryset(self):
        return query.news(self.request._request)

    @_list_schema(NewsSerializer, CommonFilters, _("The site's news, newest first."))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class NewsDetail(NewsList):
    @_detail_schema(NewsSerializer, _("One news item."))
    def get(self, request, *args, **kwargs):
        return PublicView.get(self, request, *args, **kwargs)
