"""URLs of every tenant site: Wagtail admin, feedback, the open API (/api/v2/), and the
pages under /ru/ and /en/."""

from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.admin.views import account
from wagtail.documents.views import serve as wagtaildocs_serve

from cms import media as cms_media
from cms import page_cache
from cms import views as cms_views
from cms.api import api_router
from dgbox.metrics import views as metrics
from services.kpis.public_page import how_we_are_doing
from tenants.limits import limit_password_reset

# A page missing in a tenant site shows the tenant's own header, menu and language.
handler404 = cms_views.page_not_found
handler400 = "dgbox.errors.bad_request"

urlpatterns = [
    # Wagtail's own password-reset form, limited per client and per e-mail address; the
    # admin's URLs below keep its name for reverse().
    path("admin/password_reset/", limit_password_reset(account.PasswordResetView.as_view())),
    path("admin/", include(wagtailadmin_urls)),
    # Wagtail's document URLs (wagtail.documents.urls), the id limited to 18 digits: its own
    # `\d+` hands a 5,000-digit id to the database lookup, a ValueError (a 500, not a 404).
    # cms.media.serve_document adds cache headers to Wagtail's view.
    re_path(r"^documents/(\d{1,18})/(.*)$", cms_media.serve_document, name="wagtaildocs_serve"),
    path("documents/authenticate_with_password/<int:restriction_id>/",
         wagtaildocs_serve.authenticate_with_password,
         name="wagtaildocs_authenticate_with_password"),
    path("feedback/", cms_views.page_feedback, name="page-feedback"),
    path("api/v2/", api_router.urls),
    # The versioned open API (services/api/): catalogue, applications, case work.
    path("api/v1/", include("services.api.urls")),
    # The platform's metrics are the operator host's only: a plain 404 here, not the language
    # redirect every other unknown path gets (dgbox/metrics/views.py).
    path("metrics", metrics.not_on_tenant_hosts, name="metrics"),
]
if settings.DGBOX_PUBLIC_MEDIA == "s3":  # streamed from the tenant's S3 prefix (cms/media.py)
    urlpatterns.append(re_path(r"^media/(?P<name>.+)$", cms_media.public_media,
                               name="public-media"))
elif settings.DEBUG:  # the local-disk fallback: only `make demo` without S3 serves it
    urlpatterns.append(re_path(r"^media/(?P<schema>[^/]+)/(?P<path>.+)$", cms_views.tenant_media))
# "/" has no route: the locale middleware redirects it to the tenant's default language.
urlpatterns += i18n_patterns(
    path("search/", cms_views.search, name="search"),
    # The site's KPIs for citizens, linked from the footer (services/kpis/public_page.py).
    path("how-we-are-doing/", how_we_are_doing, name="how-we-are-doing"),
    path("", include("services.applications.urls")),
    # Wagtail's front-end URLs (wagtail.urls), its pages served from the tenant's cache
    # (cms/page_cache.py): the same pattern and name.
    *(pattern for pattern in wagtail_urls.urlpatterns if pattern.name != "wagtail_serve"),
    re_path(wagtail_urls.serve_pattern, page_cache.serve, name="wagtail_serve"),
    prefix_default_language=True,
)
