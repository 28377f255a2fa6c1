"""A member of staff's own sessions: which are open, and ending them.

Sessions are django-qsessions' (Django's database sessions with the user, the client's
address and browser kept beside them), in the request's schema like the user. A session is
named on pages by a keyed hash of its key, never the key itself, so a page that leaks shows
nothing that could be replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from qsessions.models import Session

_SALT = "dgbox.staffauth.sessions"


@dataclass(frozen=True)
class OpenSession:
    ref: str
    device: str
    address: str
    last_activity: datetime
    current: bool


def ref(session_key: str) -> str:
    return salted_hmac(_SALT, session_key).hexdigest()[:20]


def open_sessions(user: Any, current_key: str | None) -> list[OpenSession]:
    """The user's unexpired sessions, the current one first, then by last activity."""
    rows = Session.objects.filter(user_id=user.pk, expire_date__gt=timezone.now())
    found = [OpenSession(ref=ref(s.session_key), device=s.device or "", address=s.ip or "",
                         last_activity=s.updated_at, current=s.session_key == current_key)
             for s in rows.order_by("-updated_at")]
    return sorted(found, key=lambda s: not s.current)


def end_session(user: Any, session_ref: str, current_key: str | None) -> bool:
    """End one of the user's other sessions (by its reference); False if none matches."""
    for session in Session.objects.filter(user_id=user.pk).exclude(session_key=current_key):
        if constant_time_compare(ref(session.session_key), session_ref):
            session.delete()
            return True
    return False


def end_other_sessions(user: Any, current_key: str | None) -> int:
    count, _ = Session.objects.filter(user_id=user.pk).exclude(session_key=current_key).delete()
    return int(count)
