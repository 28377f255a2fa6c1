from django.http import HttpResponse
from django.urls import path

from . import views

urlpatterns = [path("submit/", views.submit),
               path("healthz", lambda request: HttpResponse("ok"))]  # bench/common.py waits on it
