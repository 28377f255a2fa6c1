"""Search, page feedback and the "page not found" page of a tenant site."""

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django.views.static import serve
from wagtail.models import Locale, Page

from .models import PageFeedback

RESULTS_PER_PAGE = 10


def search(request):
    """Full-text search over this tenant's live pages in the current language (Wagtail's
    database backend: the index lives in the tenant's own schema)."""
    query = request.GET.get("q", "").strip()[:200]
    results = None
    if query:
        locale = Locale.objects.filter(language_code=get_language()).first()
        pages = Page.objects.live().public().exclude(depth__lte=1)
        if locale:
            pages = pages.filter(locale=locale)
        found = pages.specific().search(query)
        paginator = Paginator(found, RESULTS_PER_PAGE)
        results = paginator.get_page(request.GET.get("page"))
    return render(request, "cms/search.html", {"query": query, "results": results})


class FeedbackForm(forms.Form):
    page = forms.IntegerField(widget=forms.HiddenInput)
    useful = forms.TypedChoiceField(choices=[("yes", _("Yes")), ("no", _("No"))],
                                    coerce=lambda v: v == "yes")
    comment = forms.CharField(max_length=1000, required=False, widget=forms.Textarea)


@require_POST
def page_feedback(request):
    """Store "Was this page useful?" and send the reader back to the page, thanked."""
    form = FeedbackForm(request.POST)
    page = None
    if form.is_valid():
        page = Page.objects.live().filter(pk=form.cleaned_data["page"]).first()
    if page is None:
        return render(request, "cms/feedback_error.html", {"form": form}, status=400)
    PageFeedback.objects.create(page=page, useful=form.cleaned_data["useful"],
                                comment=form.cleaned_data["comment"],
                                language=get_language() or "")
    target = page.get_url(request) or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return HttpResponseRedirect(f"{target}?feedback=thanks#feedback")


def tenant_media(request, schema, path):
    """Page images and documents in DEBUG (`make demo`), for the site's own tenant only: its
    files are under MEDIA_ROOT/<schema>/ and another tenant's folder is a 404 here."""
    if schema != connection.schema_name:
        raise Http404("No such file on this site.")
    return serve(request, path, document_root=settings.MEDIA_ROOT / schema)


def page_not_found(request, exception=None):
    """A 404 inside a tenant site: the tenant's header, menu, footer and language (Django's
    own handler renders the national portal's 404.html). `handler404` in urls_tenant.py."""
    return render(request, "cms/404.html", status=404)
