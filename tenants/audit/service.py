"""Writing audit events: `record()`, the one way in, used by every caller (receivers, the
tenant lifecycle, the case screens, the operator console).

An event is written to the schema the connection is on (a tenant's, or `public` for the
platform's events; `in_public=True` forces the latter) and logged to the `dgbox.audit`
logger as one JSON line, so a copy can be shipped off the database server. Nothing is
written into the template schema or a spare: they must stay empty and their audit table
cannot be emptied.
"""

import hashlib
import hmac
import json
import logging
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.db import connection

from .context import Actor, client_address, current_actor, current_request, request_id
from .models import AuditEvent, Kind

log = logging.getLogger("dgbox.audit")
SPARE_PREFIX = "dgbox_spare_"  # tenants/launch/spares.py, which this layer may not import


def keyed_hash(value: str) -> str:
    """A keyed hash (HMAC-SHA256 with the secret key, 16 hex digits) of personal data such as
    a search term or an unknown user name: equal values can be matched, none can be read."""
    digest = hmac.new(settings.SECRET_KEY.encode(), value.strip().lower().encode(),
                      hashlib.sha256)
    return digest.hexdigest()[:16]


def _writable_schema() -> bool:
    schema = connection.schema_name
    return schema != settings.DGBOX_TEMPLATE_SCHEMA and not schema.startswith(SPARE_PREFIX)


def record(kind: Kind, summary: str, *, obj: Any = None, object_type: str = "",
           object_id: Any = "", details: dict[str, Any] | None = None,
           actor: Actor | None = None, request: HttpRequest | None = None,
           in_public: bool = False) -> AuditEvent | None:
    """Append one event. `obj` (a model instance) fills object type and id; `actor` defaults
    to the current request's user (or the system account outside a request); `request`
    (default: the current one) gives the client address and request id. Returns the row, or
    None in the template or a spare schema."""
    if in_public:
        with schema_context(get_public_schema_name()):
            return record(kind, summary, obj=obj, object_type=object_type, object_id=object_id,
                          details=details, actor=actor, request=request)
    if not _writable_schema():
        return None
    request = request or current_request()
    actor = actor or current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    event = AuditEvent.objects.create(
        kind=kind, summary=summary[:300], actor_id=actor.id, actor_display=actor.display[:200],
        client_address=client_address(request) if request is not None else None,
        object_type=object_type, object_id=str(object_id or "")[:64],
        details=details or {}, request_id=request_id(request))
    log.info("%s", json.dumps({
        "schema": connection.schema_name, "id": event.pk, "kind": str(kind),
        "actor_id": actor.id, "actor": actor.display, "address": event.client_address,
        "object": f"{object_type}:{event.object_id}" if object_type else "",
        "details": event.details, "request_id": event.request_id,
    }, cls=DjangoJSONEncoder, ensure_ascii=False))
    return event
