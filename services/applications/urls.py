"""Citizen-facing URLs of online services (under the language prefix, e.g. /ru/apply/...).

A service's address is its page's slug as Wagtail makes it: Latin or not (a Russian title gives
a Cyrillic slug), so the route takes any Unicode slug, not only Django's ASCII `slug`."""

from django.urls import path, register_converter

from . import views


class UnicodeSlugConverter:
    """What Wagtail accepts as a slug (django.core.validators.validate_unicode_slug):
    letters of any script, digits, `_` and `-`."""

    regex = r"[-\w]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(UnicodeSlugConverter, "uslug")

app_name = "services"
urlpatterns = [
    path("apply/<uslug:slug>/", views.apply, name="apply"),
    path("apply/<uslug:slug>/check/", views.check_answers, name="check"),
    path("apply/<uslug:slug>/done/", views.confirmation, name="done"),
    path("track/", views.track_start, name="track"),
    path("track/code/", views.track_code, name="track-code"),
    path("track/status/", views.track_status, name="track-status"),
    path("track/letter/", views.track_letter, name="track-letter"),
    path("pay/<uuid:token>/", views.pay, name="pay"),
]
