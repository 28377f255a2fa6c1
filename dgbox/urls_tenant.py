"""URLs of every tenant site: Wagtail admin, feedback, the open API (/api/v2/), and the
pages under /ru/ and /en/."""

from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from cms import views as cms_views
from cms.api import api_router

# A page missing in a tenant site shows the tenant's own header, menu and language.
handler404 = cms_views.page_not_found
handler400 = "dgbox.errors.bad_request"

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("feedback/", cms_views.page_feedback, name="page-feedback"),
    path("api/v2/", api_router.urls),
]
if settings.DEBUG:  # in production a web server or S3 serves media, never Django
    urlpatterns.append(re_path(r"^media/(?P<schema>[^/]+)/(?P<path>.+)$", cms_views.tenant_media))
# "/" has no route: the locale middleware redirects it to the tenant's default language.
urlpatterns += i18n_patterns(
    path("search/", cms_views.search, name="search"),
    path("", include("services.applications.urls")),
    path("", include(wagtail_urls)),
    prefix_default_language=True,
)
