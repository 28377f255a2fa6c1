"""Two editors saving pages with the same address at the same moment.

Wagtail checks a new page's slug twice: when the editor's form is validated, and again when
the page is saved. Between the two, another editor (or the same browser posting twice) can
save a sibling with that slug; the second check then raises ValidationError from inside
Wagtail's view, which Django would answer with a 500. The page was not saved, the other one
was: a conflict the editor can resolve, so it is answered as one (409) with what to do, in
the editor's language. Nothing is lost: the browser's Back keeps what was typed.
"""

import logging

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


class PageSaveConflictMiddleware:
    """Answer 409 to a ValidationError escaping a page editor view in the admin."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest,
                          exception: Exception) -> HttpResponse | None:
        if not (isinstance(exception, ValidationError)
                and request.path_info.startswith("/admin/pages/")):
            return None
        log.warning("Page not saved, it conflicts with one saved a moment earlier: %s",
                    "; ".join(exception.messages)[:300])
        problem = _("This page was not saved: another page with the same address was saved "
                    "a moment earlier. Go back (what you typed is still in the form), change "
                    "the page's address (slug) and save again.")
        return render(request, "400.html", {"problem": problem}, status=409)
