"""Which URLs a webhook may be sent to (SSRF): https to a public address.

Checked when a subscription is saved (with the name resolved: a name that points inside is
refused with a message the administrator can act on) and again before every attempt; the
address actually connected to is checked once more by the HTTP client when it connects
(requests-hardened, delivery.py), which is what stops a name that changes its answer.

DGBOX_WEBHOOKS_ALLOW_LOCAL (development and tests; production.py forces it off) also allows
plain http to loopback: 127.0.0.1, ::1 and localhost, nothing else.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
MAX_LENGTH = 500


def blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address a webhook must never reach: private, loopback, link-local (cloud metadata
    at 169.254.169.254), multicast, reserved or unspecified."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (address.is_private or address.is_loopback or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified
            or not address.is_global)


def check(url: str, *, resolve: bool = False) -> None:
    """Raise ValidationError saying what is wrong with `url` as a webhook target."""
    if not url or len(url) > MAX_LENGTH or "\x00" in url:
        raise ValidationError(_("Enter a URL of at most %(max)s characters.")
                              % {"max": MAX_LENGTH}, code="invalid")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValidationError(_("This is not a valid URL."), code="invalid") from None
    if parts.username or parts.password:
        raise ValidationError(_("Leave user names and passwords out of the URL: deliveries "
                                "are signed instead."), code="credentials")
    if not host:
        raise ValidationError(_("This is not a valid URL."), code="invalid")
    local = host in LOOPBACK_NAMES
    if local and settings.DGBOX_WEBHOOKS_ALLOW_LOCAL:
        if parts.scheme not in ("http", "https"):
            raise ValidationError(_("Use an https:// URL."), code="scheme")
        return
    if parts.scheme != "https":
        raise ValidationError(_("Use an https:// URL: deliveries are only sent encrypted."),
                              code="scheme")
    for address in _addresses(host, resolve):
        if blocked(address):
            raise ValidationError(_(
                "%(host)s is a private, local or reserved address: webhooks are only sent to "
                "addresses on the public internet.") % {"host": host}, code="private")


def _addresses(host: str, resolve: bool):
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return [ipaddress.ip_address("127.0.0.1")]
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []  # not resolvable now: checked again when connecting
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
