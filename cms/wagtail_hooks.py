"""Admin registration: snippets editors manage; national registers are read-only and so absent."""

from wagtail.snippets.models import register_snippet

from .models import AlertBanner, FooterLink

register_snippet(AlertBanner)
register_snippet(FooterLink)
