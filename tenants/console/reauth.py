"""Asking for the password again before destructive console actions (archive, suspend,
revoking an invitation) when the last check is older than `DGBOX_CONSOLE_REAUTH_MINUTES`.

The time of the last check is kept in the session: signing in sets it, and so does a
confirmation form that asked for the password. (A second factor may later count as a check:
call `mark_checked` when it is verified.)
"""

import time

from django.conf import settings
from django.http import HttpRequest

SESSION_KEY = "dgbox_console_password_checked_at"


def mark_checked(request: HttpRequest) -> None:
    request.session[SESSION_KEY] = time.time()


def checked_recently(request: HttpRequest) -> bool:
    checked = request.session.get(SESSION_KEY)
    window = settings.DGBOX_CONSOLE_REAUTH_MINUTES * 60
    return isinstance(checked, int | float) and 0 <= time.time() - checked < window
