"""The "Assessment" menu item and its admin pages (services/assessment/views.py)."""

from django.urls import path
from wagtail import hooks

from . import views


@hooks.register("register_admin_viewset")
def assessment_section():
    return views.section.routes([
        path("", views.index, name="index"),
        path("open/", views.open_round, name="open"),
        path("<int:number>/", views.round_detail, name="round"),
        path("<int:number>/report/", views.report, name="report"),
        path("<int:number>/<slug:dimension>/", views.questionnaire, name="questionnaire"),
        path("<int:number>/step/<slug:name>/", views.step, name="step"),
    ])
