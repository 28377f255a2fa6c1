"""Where a tenant's site is reached: its default host name and absolute URLs.

Scheme and port come from settings (DGBOX_SITE_SCHEME, DGBOX_SITE_PORT), so links printed by
the CLI, shown on the national portal and the operator console, and sent in e-mails all point
where the sites really answer.
"""

from django.conf import settings


def default_domain(slug: str) -> str:
    """`<slug>.<base domain>`: a new tenant's host name unless another is given."""
    return f"{slug}.{settings.BASE_DOMAIN}"


def site_url(domain: str) -> str:
    """The absolute URL of the site served on `domain`, without a trailing slash."""
    port = f":{settings.DGBOX_SITE_PORT}" if settings.DGBOX_SITE_PORT else ""
    return f"{settings.DGBOX_SITE_SCHEME}://{domain}{port}"


def site_port() -> int:
    """The port citizens reach tenant sites on (DGBOX_SITE_PORT, else the scheme's own): the
    Wagtail site of a new tenant gets it, so the absolute links Wagtail writes carry it."""
    port: int = settings.DGBOX_SITE_PORT or (443 if settings.DGBOX_SITE_SCHEME == "https" else 80)
    return port
