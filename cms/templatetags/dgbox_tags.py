"""Template helpers for tenant sites: alerts, footer links, languages, branding colours; and
staff group names as people read them (admin screens)."""

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils.translation import get_language

from tenants import staff

from .. import chrome, page_cache
from ..contrast import darken, tint

register = template.Library()


class PageFragmentNode(template.Node):
    def __init__(self, name, nodelist):
        self.name, self.nodelist = name, nodelist

    def render(self, context):
        return page_cache.render_fragment(context.get("request"), context.get("page"),
                                          self.name, lambda: self.nodelist.render(context))


@register.tag
def page_fragment(parser, token):
    """{% page_fragment "name" %}...{% endpage_fragment %}: what the body renders for the
    page being served, kept in the tenant's cache (cms/page_cache.py says when and what it
    must not hold). Blocks inside it are overridden by child templates as usual."""
    bits = token.split_contents()
    if len(bits) != 2 or bits[1][0] not in "\"'" or bits[1][0] != bits[1][-1]:
        raise template.TemplateSyntaxError(f"{bits[0]} takes one quoted name")
    nodelist = parser.parse(("endpage_fragment",))
    parser.delete_first_token()
    return PageFragmentNode(bits[1][1:-1], nodelist)


@register.simple_tag
def active_alerts():
    """The active language's alert banners shown now (from the tenant's cache)."""
    return chrome.alerts(get_language())


@register.simple_tag
def footer_links():
    """The active language's footer links (from the tenant's cache)."""
    return chrome.footer_links(get_language())


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
