"""`GET /api/v1/kpis`: the tenant's KPIs as open data, per day or month, in JSON or CSV
(services/kpis/publication.py decides what is published and what is withheld). Open without a
key and cached like the catalogue (Cache-Control, ETag, 304): PublicView's answer."""

import csv
import datetime
import io

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response

from cms.models import ServicePage
from services.kpis import publication
from tenants import registers

from . import query
from .views import CACHE_HEADERS, IF_NONE_MATCH, NOT_MODIFIED, PublicView

#: Cells a spreadsheet would run as a formula start with one of these (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_HEAD = ("period", "from", "to", "service_id", "service_title", "category",
            *publication.FIELDS, "suppressed")


def csv_cell(value):
    """A cell as text; text a spreadsheet would take for a formula gets a leading apostrophe.
    Numbers are left alone (a negative number is a number, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class KpiCsvRenderer(renderers.BaseRenderer):
    """The `results` of a KPI answer as CSV (UTF-8, comma-separated, a header row); the
    service's title and category repeated on every row, so that one row stands alone."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_HEAD)
        service = data.get("service") or {}
        for row in data.get("results", []):
            cells = [row["period"], row["from"], row["to"], service.get("id"),
                     service.get("title"), data.get("category") or "",
                     *(row[name] for name in publication.FIELDS), " ".join(row["suppressed"])]
            writer.writerow([csv_cell(cell) for cell in cells])
        return out.getvalue().encode("utf-8")


#: Days the API answers for: wide enough for any real figure, narrow enough that a period and
#: its defaults never leave the calendar (9999-12-31 has no next month).
EARLIEST, LATEST = datetime.date(1900, 1, 1), datetime.date(2999, 12, 31)


def _within_reason(value):
    if not EARLIEST <= value <= LATEST:
        raise serializers.ValidationError(
            _("Give a day from %(earliest)s to %(latest)s.") % {
                "earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()})
    return value


class KpiFilters(serializers.Serializer):
    """The query of `GET /api/v1/kpis`; every error is a 400 problem naming the parameter."""

    from_ = serializers.DateField(
        required=False, help_text=_("First day (ISO 8601, e.g. 2026-01-01). Default: a year "
                                    "before `to`, from the first of that month; by day, the 30 "
                                    "days up to `to`."))
    to = serializers.DateField(
        required=False, help_text=_("Last day, included. Default: yesterday (today's figures "
                                    "are computed tomorrow)."))
    granularity = serializers.ChoiceField(
        choices=publication.GRANULARITIES, default=publication.MONTH,
        help_text=_("One row per day (at most 366 days) or per calendar month (at most ten "
                    "years)."))
    service = serializers.IntegerField(
        required=False, min_value=1, max_value=999_999_999_999_999_999,
        help_text=_("Only this service (the `id` of /api/v1/services); without it, the whole "
                    "site."))
    category = serializers.CharField(
        required=False, max_length=64, allow_blank=True,
        help_text=_("Only services in this category (a code of the national register of "
                    "service categories, e.g. education)."))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # `from` is a Python keyword
        return fields

    def validate_category(self, value):
        if value and value not in dict(registers.choices("categories")):
            raise serializers.ValidationError(
                _("Unknown code “%(code)s”: use a code of the national register of service "
                  "categories.") % {"code": value[:64]})
        return value

    def validate_from(self, value):
        return _within_reason(value)

    def validate_to(self, value):
        return _within_reason(value)

    def validate(self, attrs):
        granularity = attrs["granularity"]
        last = attrs.get("to") or timezone.localdate() - datetime.timedelta(days=1)
        first = attrs.get("from") or (
            last - datetime.timedelta(days=29) if granularity == publication.DAY
            else (last - datetime.timedelta(days=365)).replace(day=1))
        if first > last:
            raise serializers.ValidationError(
                {"from": [_("`from` is after `to`: give the earlier day first.")]})
        limit = publication.MAX_SPAN_DAYS[granularity]
        if (last - first).days >= limit:
            raise serializers.ValidationError({"to": [
                _("At most %(days)s days per request at this granularity: ask for a shorter "
                  "period or for months.") % {"days": limit}]})
        attrs.update({"from": first, "to": last})
        return attrs


class KpiRow(serializers.Serializer):
    """One period's figures (the OpenAPI document's description of a row; null: withheld or
    nothing to divide)."""

    period = serializers.CharField(help_text=_("2026-03 (a month) or 2026-03-15 (a day)."))
    from_ = serializers.DateField(help_text=_("The period's first day."))
    to = serializers.DateField(help_text=_("The period's last day (included)."))
    cases_online = serializers.IntegerField(allow_null=True, help_text=_(
        "Applications received online."))
    cases_office = serializers.IntegerField(allow_null=True, help_text=_(
        "Applications received at an office."))
    cases_phone = serializers.IntegerField(allow_null=True, help_text=_(
        "Applications received by phone."))
    cases_post = serializers.IntegerField(allow_null=True, help_text=_(
        "Applications received by post."))
    decided = serializers.IntegerField(allow_null=True, help_text=_(
        "Applications decided (approved or refused)."))
    decided_with_deadline = serializers.IntegerField(allow_null=True, help_text=_(
        "Of them, with a decision deadline."))
    decided_on_time = serializers.IntegerField(allow_null=True, help_text=_(
        "Of them, decided on or before the deadline."))
    decided_automatically = serializers.IntegerField(allow_null=True, help_text=_(
        "Decided by a published rule without a person."))
    page_views = serializers.IntegerField(allow_null=True, help_text=_(
        "Views of service pages (counted without cookies)."))
    forms_started = serializers.IntegerField(allow_null=True, help_text=_(
        "Online forms started."))
    feedback_useful = serializers.IntegerField(allow_null=True, help_text=_(
        "“Was this page useful?” answered yes."))
    feedback_not_useful = serializers.IntegerField(allow_null=True, help_text=_(
        "“Was this page useful?” answered no."))
    cost = serializers.FloatField(allow_null=True, help_text=_(
        "Estimated cost of the applications under the channel cost model (relative units "
        "unless the operator set a currency)."))
    savings = serializers.FloatField(allow_null=True, help_text=_(
        "Estimated saving against handling every application at an office."))
    take_up = serializers.FloatField(allow_null=True, help_text=_(
        "Share of applications made online, 0-1 (target: 0.8-0.9)."))
    sla_compliance = serializers.FloatField(allow_null=True, help_text=_(
        "Share of decisions with a deadline made on time, 0-1."))
    automation = serializers.FloatField(allow_null=True, help_text=_(
        "Share of decisions made automatically, 0-1."))
    usefulness = serializers.FloatField(allow_null=True, help_text=_(
        "Share of “useful” answers, 0-1."))
    median_days = serializers.IntegerField(allow_null=True, help_text=_(
        "Median calendar days from application to decision."))
    p90_days = serializers.IntegerField(allow_null=True, help_text=_(
        "90th percentile of calendar days from application to decision."))
    suppressed = serializers.ListField(child=serializers.CharField(), help_text=_(
        "Fields withheld by the small-number rule (docs/open-data.md)."))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class KpiService(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class KpiAnswer(serializers.Serializer):
    from_ = serializers.DateField()
    to = serializers.DateField()
    granularity = serializers.ChoiceField(choices=publication.GRANULARITIES)
    service = KpiService(allow_null=True, help_text=_("The service asked for, or null."))
    category = serializers.CharField(allow_null=True)
    suppress_below = serializers.IntegerField(help_text=_(
        "Counts from 1 to this number less one are withheld (null)."))
    results = KpiRow(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class KpiList(PublicView):
    """The tenant's KPIs per period, with small numbers withheld."""

    renderer_classes = [renderers.JSONRenderer, KpiCsvRenderer]
    pagination_class = None
    filters_class = KpiFilters

    def service(self, page_id):
        """The live, public service page `page_id` of this site, or a 400 problem."""
        page = (query.public_pages(self.request._request, ServicePage)
                .filter(pk=page_id).values("id", "title").first())
        if page is None:
            raise serializers.ValidationError({"service": [_(
                "No public service has this id: use an `id` of /api/v1/services.")]})
        return page

    @extend_schema(
        operation_id="kpis_list",
        parameters=[KpiFilters, IF_NONE_MATCH, *CACHE_HEADERS],
        description=_(
            "The site's key performance indicators per day or per month: applications by "
            "channel, decisions, deadlines met, automatic decisions, page views, forms "
            "started, feedback, estimated costs, and the ratios and times derived from them. "
            "No personal data. Small numbers are withheld: a count from 1 to `suppress_below` "
            "less one is null and named in the row's `suppressed`, with the figures derived "
            "from it. JSON, or CSV with `Accept: text/csv` or `?format=csv`."),
        responses={(200, "application/json"): OpenApiResponse(KpiAnswer, description=_(
                       "The figures, one row per period.")),
                   (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=_(
                       "The rows as CSV (UTF-8, a header row).")),
                   304: NOT_MODIFIED})
    def get(self, request, *args, **kwargs):
        filters = KpiFilters(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        checked = filters.validated_data
        service = self.service(checked["service"]) if "service" in checked else None
        rows = publication.figures_by_period(
            checked["from"], checked["to"], checked["granularity"],
            service=service["id"] if service else None, category=checked.get("category", ""))
        response = Response({
            "from": checked["from"].isoformat(), "to": checked["to"].isoformat(),
            "granularity": checked["granularity"], "service": service,
            "category": checked.get("category") or None,
            "suppress_below": publication.threshold(), "results": rows})
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = (
                f'attachment; filename="kpis-{checked["from"]}-{checked["to"]}.csv"')
        return response
