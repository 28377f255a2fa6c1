"""Staff views of cases in the admin: list, detail, and files served only through an
authorised view that records who opened which file."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache

from .models import Case, CaseEvent, UploadedFile
from .views import answer_rows

can_view = permission_required("services.view_case", raise_exception=True)


@never_cache
@can_view
def case_list(request):
    cases = Case.objects.select_related("service__page").order_by("-submitted_at")
    query = request.GET.get("q", "").strip()
    if query:
        cases = cases.filter(reference__icontains=query[:32])
    page = Paginator(cases, 50).get_page(request.GET.get("p"))
    return render(request, "services/admin/case_list.html", {"cases": page, "q": query})


@never_cache
@can_view
def case_detail(request, pk):
    case = get_object_or_404(Case.objects.select_related("service__page", "form_version"), pk=pk)
    return render(request, "services/admin/case_detail.html", {
        "case": case, "rows": answer_rows(case.form_version.spec, case.answers),
        "files": case.files.all(), "events": case.events.select_related("actor"),
    })


@never_cache
@can_view
def case_file(request, pk):
    stored = get_object_or_404(UploadedFile, pk=pk, case__isnull=False)
    try:
        handle = stored.open()
    except FileNotFoundError as exc:
        raise Http404("The file is missing from storage.") from exc
    CaseEvent.objects.create(case_id=stored.case_id, kind=CaseEvent.Kind.FILE_VIEWED,
                             actor=request.user, actor_role="staff",
                             data={"file": str(stored.pk), "field": stored.field_name})
    response = FileResponse(handle, as_attachment=True, filename=stored.original_name,
                            content_type=stored.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response
