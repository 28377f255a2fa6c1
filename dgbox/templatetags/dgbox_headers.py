"""Template tags every template has without `{% load %}` (TEMPLATES' builtins): they read
the request being answered from dgbox.headers, so they work in pages rendered without a
request context too (the 500 and 503 pages)."""

from django import template

from dgbox import headers

register = template.Library()


@register.simple_tag
def csp_nonce() -> str:
    """The request's CSP nonce, for `<script nonce="{% csp_nonce %}">`."""
    return headers.csp_nonce()


@register.simple_tag
def request_id() -> str:
    """The request's id (X-Request-ID): the incident reference on error pages."""
    return headers.request_id()


@register.inclusion_tag("_incident_reference.html")
def incident_reference() -> dict[str, object]:
    """'Reference: …' on an error page: the id also written on the request's log lines."""
    reference = headers.request_id()
    # Shown in parts of 8 that a phone's screen may wrap between (<wbr>, which adds no
    # character: the reference copies whole).
    return {"reference": reference,
            "parts": [reference[i:i + 8] for i in range(0, len(reference), 8)]}

