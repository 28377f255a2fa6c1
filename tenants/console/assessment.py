"""The operator console's comparison of maturity assessments (issue 17): each tenant's latest
approved round (`AssessmentResult`, the public copies written on approval) as a table of
tenants by dimensions, and one tenant's radar against the median of the tenants of its level
(regions, or municipalities) in the user's scope. National operators see every tenant; a
regional administrator their region and its municipalities (tenants/access.py)."""

from statistics import median
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from tenants import access
from tenants.models import AssessmentResult, Tenant

from .charts import radar_chart
from .views import console_required, tenant_in_scope


def _title(titles: Any, code: str) -> str:
    if not isinstance(titles, dict):
        return code
    language = (get_language() or "en").split("-")[0]
    return str(titles.get(language) or titles.get("en") or code)


def latest_results(tenants: Any) -> list[AssessmentResult]:
    """Each tenant's latest approved round, by tenant name."""
    latest = (AssessmentResult.objects.filter(tenant__in=tenants)
              .order_by("schema_name", "-round_number").distinct("schema_name"))
    return sorted(latest.select_related("tenant"),
                  key=lambda r: (r.tenant.name.lower() if r.tenant else r.schema_name))


def columns(results: list[AssessmentResult]) -> list[tuple[str, str]]:
    """Dimension codes and titles, in the order of the newest model among `results`."""
    found: dict[str, str] = {}
    for result in sorted(results, key=lambda r: -r.model_version):
        for dimension in result.dimensions:
            code = str(dimension.get("code", ""))
            if code and code not in found:
                found[code] = _title(dimension.get("title"), code)
    return list(found.items())


def medians(results: list[AssessmentResult], codes: list[str]) -> dict[str, float | None]:
    """Per dimension, the median score of `results` (not-assessed scores left out)."""
    out: dict[str, float | None] = {}
    for code in codes:
        scores = [s for s in (r.score_of(code) for r in results) if s is not None]
        out[code] = round(median(scores), 2) if scores else None
    return out


@console_required
def comparison(request: HttpRequest) -> HttpResponse:
    scope = access.tenants_in_scope(request.user)
    results = latest_results(scope)
    dims = columns(results)
    codes = [code for code, _title in dims]
    rows = [{"result": r, "tenant": r.tenant, "scores": [r.score_of(c) for c in codes]}
            for r in results]
    context: dict[str, Any] = {"rows": rows, "dimensions": dims,
                               "is_operator": access.is_operator(request.user)}
    slug = request.GET.get("tenant", "")[:100]
    if slug:
        tenant = tenant_in_scope(request, slug)
        mine = next((r for r in results if r.tenant_id == tenant.pk), None)
        peers = [r for r in results if r.tenant is not None and r.tenant.kind == tenant.kind]
        middle = medians(peers, codes)
        compare_name = (_("median of the regions (%(n)s)") if tenant.kind == Tenant.Kind.REGION
                        else _("median of the municipalities (%(n)s)")) % {"n": len(peers)}
        context.update({
            "selected": tenant, "selected_result": mine, "peers": len(peers),
            "compare_name": compare_name,
            "comparison": [{"title": title, "score": mine.score_of(code) if mine else None,
                            "median": middle[code]} for code, title in dims]})
        if mine is not None:
            context["radar"] = radar_chart(
                [(title, mine.score_of(code)) for code, title in dims],
                title=_("Maturity of %(name)s") % {"name": tenant.name},
                compare=[(title, middle[code]) for code, title in dims],
                compare_name=compare_name)
    return render(request, "operator/assessment.html", context)
