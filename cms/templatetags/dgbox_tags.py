"""Template helpers for tenant sites: alerts, footer links, languages, branding colours; and
staff group names as people read them (admin screens)."""

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils.translation import get_language
from wagtail.models import Locale

from tenants import staff

from ..contrast import darken, tint
from ..models import AlertBanner, FooterLink

register = template.Library()


def _in_current_locale(context, queryset):
    """Filter by the active language's Locale, looked up once per request (every page renders
    both the alerts and the footer links)."""
    request = context.get("request")
    language = get_language()
    cached = getattr(request, "_dgbox_locale", None)
    if cached is None or cached[0] != language:
        cached = (language, Locale.objects.filter(language_code=language).first())
        if request is not None:
            request._dgbox_locale = cached
    locale = cached[1]
    return list(queryset.filter(locale=locale) if locale else queryset)


@register.simple_tag(takes_context=True)
def active_alerts(context):
    return _in_current_locale(context, AlertBanner.objects.active())


@register.simple_tag(takes_context=True)
def footer_links(context):
    return _in_current_locale(context, FooterLink.objects.all())


@register.simple_tag(takes_context=True)
def language_links(context):
    request = context.get("request")
    current = get_language()
    path = request.get_full_path() if request else "/"
    return [{"code": code, "name": name, "current": code == current,
             "url": translate_url(path, code)} for code, name in settings.LANGUAGES]


@register.filter
def group_label(name):
    """A stored staff group name as people read it ("Case workers" -> its role's name)."""
    return staff.group_label(name)


@register.simple_tag
def brand_style(branding):
    """CSS custom properties for the tenant's colour (see frontend/README.md)."""
    colour = getattr(branding, "primary_colour", "") or "#1d4f91"
    return (f"--dgbox-brand: {colour}; --dgbox-brand-dark: {darken(colour)}; "
            f"--dgbox-brand-tint: {tint(colour)}; --dgbox-on-brand: #ffffff;")
