"""Key authentication and scope checks for /api/v1/ (REST framework classes).

`Authorization: Bearer dgbox_<prefix>_<secret>`. A valid key makes `request.auth` the ApiKey
and `request.user` the client's service account (or an anonymous user when it has none);
`request.api_client` is the client. A wrong, revoked or expired key is a 401, never a silent
anonymous call: a client that sent a key means to be that client.
"""

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions

from . import keys
from .models import ApiKey

#: last_used_at is written at most this often per key (one UPDATE, not one per call).
LAST_USED_EVERY_SECONDS = 60


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        # Read as text: REST framework's get_authorization_header() raises on characters
        # outside latin-1 (a 500); a key is ASCII, anything else is simply not a key.
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send one key: Authorization: Bearer <key>."))
        presented = header[1]
        parts = keys.split(presented) if presented.isascii() else None
        if parts is None:
            raise exceptions.AuthenticationFailed(_("The API key is not valid."))
        prefix, secret = parts
        now = timezone.now()
        key = (ApiKey.objects.usable(now).select_related("client", "client__service_user")
               .filter(prefix=prefix).first())
        if key is None or not keys.matches(secret, key.digest):
            raise exceptions.AuthenticationFailed(_("The API key is not valid."))
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() \
                > LAST_USED_EVERY_SECONDS:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        client = key.client
        request._request.api_client = client
        user = client.service_user if client.service_user_id else AnonymousUser()
        return user, key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


def client_of(request):
    """The API client of an authenticated call, or None."""
    return getattr(request._request, "api_client", None)


class HasScope(permissions.BasePermission):
    """The view's `required_scope` (a Scope value) granted to the calling client."""

    message = _("This API client does not have the scope this call needs.")

    def has_permission(self, request, view):
        scope = getattr(view, "required_scope", None)
        client = client_of(request)
        if client is None:
            raise exceptions.NotAuthenticated(_("This call needs an API key."))
        return scope is not None and client.has_scope(scope)
