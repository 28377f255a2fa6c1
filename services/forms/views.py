"""Admin: the read-only list of the tenant's online services. A service's form is edited on
its service page (the "Online application" tab); this list only says which pages take
applications and links to each page's editor."""

from django.db.models import Count
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from wagtail.admin.ui.tables import Column, StatusFlagColumn, TitleColumn
from wagtail.admin.views.generic import IndexView

from .models import OnlineService


class OnlineServiceIndexView(IndexView):
    model = OnlineService
    page_title = _("Online services")
    header_icon = "form"
    index_url_name = "services_online_services"
    index_results_url_name = "services_online_services_results"
    paginate_by = 50
    default_ordering = "page__title"
    # Titles and counts only, for every admin user; changing a form needs the right to edit
    # its page, checked by the page editor.
    permission_policy = None
    any_permission_required = None

    @cached_property
    def verbose_name_plural(self):
        return _("online services")

    def get_base_queryset(self):
        return (OnlineService.objects.select_related("page", "page__locale")
                .annotate(case_count=Count("cases")))

    def get_valid_orderings(self):
        return ["page__title", "-page__title"]

    @cached_property
    def columns(self):
        return [
            TitleColumn("title", label=_("Service page"), accessor="page.title",
                        sort_key="page__title",
                        get_url=lambda service: reverse("wagtailadmin_pages:edit",
                                                        args=[service.page_id])),
            Column("language", label=_("Language"), accessor="page.locale.get_display_name"),
            StatusFlagColumn("live", label=_("Page"), accessor="page.live",
                             true_label=_("Published"), false_label=_("Draft")),
            StatusFlagColumn("accepting", label=_("Applications"), true_label=_("Open"),
                             false_label=_("Closed")),
            Column("case_count", label=_("Applications received")),
        ]


online_service_list = never_cache(OnlineServiceIndexView.as_view())
online_service_list_results = never_cache(OnlineServiceIndexView.as_view(results_only=True))
