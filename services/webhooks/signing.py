"""Signing deliveries the Standard Webhooks way (https://www.standardwebhooks.com), with its
maintained reference library `standardwebhooks` (docs/dependencies.md).

Headers: `Webhook-Id` (the event id, the same on every retry and replay), `Webhook-Timestamp`
(seconds since the epoch, of this attempt) and `Webhook-Signature`: `v1,` and the base64 of
HMAC-SHA256 over "{id}.{timestamp}.{body}" keyed with the secret's bytes.
"""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32  # 256 bits


def new_secret() -> str:
    """A random secret in the Standard Webhooks form: whsec_ and the base64 of 32 bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def headers(secret: str, event_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The three signature headers of one attempt to send `body` (the exact text posted)."""
    at = at or datetime.now(UTC)
    return {
        "Webhook-Id": event_id,
        "Webhook-Timestamp": str(int(at.timestamp())),
        "Webhook-Signature": Webhook(secret).sign(event_id, at, body),
    }
