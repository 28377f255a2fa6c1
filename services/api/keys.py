"""API keys: `dgbox_<prefix>_<secret>`, shown once, stored as a SHA-256 digest.

The secret is 32 random bytes (256 bits), so a fast hash is the right tool (as for GitHub's or
Stripe's tokens): a slow password hash protects low-entropy secrets and would only make every
API call slower. The prefix is stored in clear to find the row and to let people tell their
keys apart; the comparison of digests is constant-time.
"""

import hashlib
import secrets
from dataclasses import dataclass

PREFIX_BYTES = 6  # 8 characters of base64url
SECRET_BYTES = 32
KEY_START = "dgbox_"


@dataclass(frozen=True)
class NewKey:
    prefix: str
    digest: str
    plaintext: str  # shown to the administrator once, never stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_key() -> NewKey:
    # token_urlsafe may contain "_", our separator: hex prefixes cannot.
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewKey(prefix=prefix, digest=digest(secret), plaintext=f"{KEY_START}{prefix}_{secret}")


def split(presented: str) -> tuple[str, str] | None:
    """(prefix, secret) of a presented key, or None when it is not shaped like one of ours."""
    if not presented.startswith(KEY_START) or len(presented) > 200:
        return None
    prefix, sep, secret = presented[len(KEY_START):].partition("_")
    if not sep or len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    return prefix, secret


def matches(secret: str, stored_digest: str) -> bool:
    return secrets.compare_digest(digest(secret), stored_digest)
