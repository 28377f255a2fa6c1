"""Template helpers for tenant sites: alerts, footer links, languages, branding colours."""

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils.translation import get_language
from wagtail.models import Locale

from ..contrast import darken, tint
from ..models import AlertBanner, FooterLink

register = template.Library()


def _locale():
    return Locale.objects.filter(language_code=get_language()).first()


@register.simple_tag
def active_alerts():
    alerts = AlertBanner.objects.active()
    locale = _locale()
    return list(alerts.filter(locale=locale) if locale else alerts)


@register.simple_tag
def footer_links():
    links = FooterLink.objects.all()
    locale = _locale()
    return list(links.filter(locale=locale) if locale else links)


@register.simple_tag(takes_context=True)
def language_links(context):
    request = context.get("request")
    current = get_language()
    path = request.get_full_path() if request else "/"
    return [{"code": code, "name": name, "current": code == current,
             "url": translate_url(path, code)} for code, name in settings.LANGUAGES]


@register.simple_tag
def brand_style(branding):
    """CSS custom properties for the tenant's colour (see frontend/README.md)."""
    colour = getattr(branding, "primary_colour", "") or "#1d4f91"
    return (f"--dgbox-brand: {colour}; --dgbox-brand-dark: {darken(colour)}; "
            f"--dgbox-brand-tint: {tint(colour)}; --dgbox-on-brand: #ffffff;")
