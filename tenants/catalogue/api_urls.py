"""The base domain's public API, /api/v1/ (dgbox/urls_public.py includes it): the routes
the OpenAPI document at /api/v1/openapi.json describes, and only those."""

from django.urls import path

from .api import CatalogueServices

urlpatterns = [
    path("api/v1/catalogue/services", CatalogueServices.as_view(), name="catalogue-api"),
]
