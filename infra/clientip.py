"""The client's address: the one answer every limit and the audit trail use.

`client_address(request)` is `REMOTE_ADDR` (the peer that connected), unless
`DGBOX_TRUSTED_PROXIES` says that many reverse proxies stand in front of dgbox: then it is the
address the outermost of them appended to `X-Forwarded-For`, read with django-ipware. Whatever
a client writes into `X-Forwarded-For` itself sits to the left of what the trusted proxies
append and is never read, so a forged header can neither reset a limit nor spend somebody
else's. A header with fewer entries than there are trusted proxies (the request did not come
through them all) or with no valid address falls back to `REMOTE_ADDR`.
"""

from ipaddress import ip_address

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

#: Only this header is read, and only when proxies are trusted.
FORWARDED_HEADER = "HTTP_X_FORWARDED_FOR"


def client_address(request: HttpRequest) -> str:
    """The address limits and audit records are counted against ("unknown" if none)."""
    peer = str(request.META.get("REMOTE_ADDR") or "unknown")
    proxies: int = settings.DGBOX_TRUSTED_PROXIES
    if proxies <= 0:
        return peer
    entries = [entry.strip() for entry in str(request.META.get(FORWARDED_HEADER, "")).split(",")]
    if len(entries) < proxies or not all(entries[-proxies:]):
        return peer
    # Only what the trusted proxies appended is handed to django-ipware, which counts the
    # proxies listed beyond the one that connected: with N trusted proxies, the client is the
    # N-th entry from the right, and an invalid one there is not skipped for another.
    trusted = HttpRequest()
    trusted.META = {FORWARDED_HEADER: ", ".join(entries[-proxies:])}
    address, _routable = get_client_ip(trusted, proxy_order="left-most",
                                       proxy_count=proxies - 1,
                                       request_header_order=[FORWARDED_HEADER], strict=True)
    return address or peer


def client_ip(request: HttpRequest) -> str | None:
    """`client_address` where an IP address is stored (django-axes' AXES_CLIENT_IP_CALLABLE):
    None when there is none (a request made in code, such as a test client's force_login)."""
    address = client_address(request)
    try:
        ip_address(address)
    except ValueError:
        return None
    return address
