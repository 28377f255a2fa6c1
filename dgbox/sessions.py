"""The session engine: django-qsessions' database sessions, an existing one saved by a single
UPDATE.

qsessions' `Session.save()` reads the row again before every write, only to keep its
`created_at` (its own FIXME, Django ticket #17654), and Django's database store wraps the
model save in a transaction of its own: three round trips and an ORM model save for what
every request that touches the session (each step of an application) writes. Here an
existing session is written with one UPDATE of the columns a save changes (data, expiry,
user, browser, address, `updated_at`); `created_at` is left as it is. Creating a session,
loading, expiry, deletion and the staff session list (tenants/staffauth/) are qsessions' and
Django's own. A session deleted meanwhile (signed out elsewhere, ended by an administrator)
is not written again: UpdateError, which Django's middleware answers as it always has.
"""

from django.contrib import auth
from django.contrib.sessions.backends.base import UpdateError
from django.utils import timezone
from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY
from qsessions.backends.db import SessionStore as QSessionStore


class SessionStore(QSessionStore):
    """qsessions' store; `save()` of an existing session is one UPDATE."""

    def save(self, must_create=False):
        if must_create or self.session_key is None:
            super().save(must_create)
            return
        # As qsessions' save: the browser and address are kept in the data too.
        if self.get(USER_AGENT_SESSION_KEY) != self.user_agent or \
                USER_AGENT_SESSION_KEY not in self:
            self[USER_AGENT_SESSION_KEY] = self.user_agent
        if self.get(IP_SESSION_KEY) != self.ip or IP_SESSION_KEY not in self:
            self[IP_SESSION_KEY] = self.ip
        data = self._get_session()
        updated = self.model.objects.filter(session_key=self.session_key).update(
            session_data=self.encode(data), expire_date=self.get_expiry_date(),
            user_id=self.get(auth.SESSION_KEY), user_agent=self.user_agent, ip=self.ip,
            updated_at=timezone.now())
        if not updated:
            raise UpdateError
