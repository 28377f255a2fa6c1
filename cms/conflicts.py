"""Two saves of new pages with the same address at the same moment.

Wagtail checks a new page's slug twice: when the editor's form is validated, and again when
the page is saved. Between the two, another editor can save a sibling with that slug, or the
same browser can post the same form twice (seen in the browser tests under load: the second
post arrives while the first is still saving). The second check then raises ValidationError
from inside Wagtail's view, which Django would answer with a 500. Instead:

- the same editor's same page, saved moments ago (a double post): the editor is taken to
  that page's editor, as the first post would have done; nothing is saved twice;
- anyone else's page: a 409 page in the editor's language saying what to do. Nothing is
  lost: the browser's Back keeps what was typed.
"""

import datetime
import logging
import re

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from wagtail.models import Page
from wagtail.users.models import UserProfile

log = logging.getLogger(__name__)

ADD_PAGE = re.compile(r"^/admin/pages/add/[^/]+/[^/]+/(\d+)/$")
DOUBLE_POST_WINDOW = datetime.timedelta(minutes=2)


class PageSaveConflictMiddleware:
    """Answer a ValidationError escaping a page editor view in the admin: the editor's own
    page saved moments ago, or a 409 saying what to do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest,
                          exception: Exception) -> HttpResponse | None:
        if not (isinstance(exception, ValidationError)
                and request.path_info.startswith("/admin/pages/")):
            return None
        own = _same_editors_page(request)
        if own is not None:
            log.info("A page saved twice in a row (a double post): page %s kept", own.pk)
            return HttpResponseRedirect(reverse("wagtailadmin_pages:edit", args=[own.pk]))
        log.warning("Page not saved, it conflicts with one saved a moment earlier: %s",
                    "; ".join(exception.messages)[:300])
        with translation.override(_editors_language(request)):
            problem = _("This page was not saved: another page with the same address was "
                        "saved a moment earlier. Go back (what you typed is still in the "
                        "form), change the page's address (slug) and save again.")
            return render(request, "400.html", {"problem": problem}, status=409)


def _same_editors_page(request: HttpRequest) -> Page | None:
    """The page this editor created under the same parent with the same title and address
    within the last two minutes: what an earlier post of this same form saved."""
    match = ADD_PAGE.match(request.path_info)
    user = getattr(request, "user", None)
    if match is None or user is None or not user.is_authenticated:
        return None
    siblings = Page.objects.filter(pk=int(match.group(1))).first()
    if siblings is None:
        return None
    pages = siblings.get_children().filter(
        owner=user, title=request.POST.get("title", ""),
        latest_revision_created_at__gte=timezone.now() - DOUBLE_POST_WINDOW)
    slug = request.POST.get("slug")
    if slug:
        pages = pages.filter(slug=slug)
    return pages.order_by("-pk").first()


def _editors_language(request: HttpRequest) -> str | None:
    """The admin language the editor chose (Wagtail applies it only inside its views)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return translation.get_language()
    return UserProfile.get_for_user(user).get_preferred_language() or translation.get_language()
