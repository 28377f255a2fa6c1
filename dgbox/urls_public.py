"""URLs of the base domain (public schema): the national portal."""

from django.urls import path

from tenants import views

urlpatterns = [
    path("", views.portal_home, name="portal-home"),
]
