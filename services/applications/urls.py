"""Citizen-facing URLs of online services (under the language prefix, e.g. /ru/apply/...)."""

from django.urls import path

from . import views

app_name = "services"
urlpatterns = [
    path("apply/<slug:slug>/", views.apply, name="apply"),
    path("apply/<slug:slug>/check/", views.check_answers, name="check"),
    path("apply/<slug:slug>/done/", views.confirmation, name="done"),
    path("track/", views.track_start, name="track"),
    path("track/code/", views.track_code, name="track-code"),
    path("track/status/", views.track_status, name="track-status"),
    path("track/letter/", views.track_letter, name="track-letter"),
    path("pay/<uuid:token>/", views.pay, name="pay"),
]
