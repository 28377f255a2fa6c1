"""The session engine: django-qsessions' database sessions, a new session made with a single
INSERT and an existing one saved with a single UPDATE.

qsessions' `Session.save()` reads the row again before every write, only to keep its
`created_at` (its own FIXME, Django ticket #17654), and Django's database store wraps the
model save in a transaction of its own and, before making a session, asks whether its new
random key exists: five round trips and an ORM model save for a new session, three for an
existing one, on every request that touches the session (each step of an application).

Here a new session is one `INSERT ... ON CONFLICT (session_key) DO NOTHING RETURNING`: a key
that exists already (32 random characters: never in practice) inserts nothing, which is
Django's CreateError, and Django's `create()` draws another key; no error is raised into the
caller's transaction, so no savepoint is needed. An existing session is one UPDATE of the
columns a save changes (data, expiry, user, browser, address, `updated_at`); `created_at` is
left as it is. Loading, expiry, deletion and the staff session list (tenants/staffauth/) are
qsessions' and Django's own. A session deleted meanwhile (signed out elsewhere, ended by an
administrator) is not written again: UpdateError, which Django's middleware answers as it
always has.
"""

from django.contrib import auth
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import connections, router
from django.utils import timezone
from django.utils.crypto import get_random_string
from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY
from qsessions.backends.db import SessionStore as QSessionStore


class SessionStore(QSessionStore):
    """qsessions' store; making a session is one INSERT, saving one is one UPDATE."""

    def _get_new_session_key(self):
        # No "does it exist?" query: the INSERT's ON CONFLICT is that check (save below).
        return get_random_string(32, VALID_KEY_CHARS)

    def save(self, must_create=False):
        if self.session_key is None:
            self.create()  # Django's loop: a new key, then save(must_create=True)
            return
        # As qsessions' save: the browser and address are kept in the data too.
        if self.get(USER_AGENT_SESSION_KEY) != self.user_agent or \
                USER_AGENT_SESSION_KEY not in self:
            self[USER_AGENT_SESSION_KEY] = self.user_agent
        if self.get(IP_SESSION_KEY) != self.ip or IP_SESSION_KEY not in self:
            self[IP_SESSION_KEY] = self.ip
        data = self._get_session(no_load=must_create)
        if must_create:
            if not self._insert(data):
                raise CreateError
            return
        updated = self.model.objects.filter(session_key=self.session_key).update(
            session_data=self.encode(data), expire_date=self.get_expiry_date(),
            user_id=self.get(auth.SESSION_KEY), user_agent=self.user_agent, ip=self.ip,
            updated_at=timezone.now())
        if not updated:
            raise UpdateError

    def _insert(self, data) -> bool:
        """Insert the session row unless its key is taken; whether it was inserted."""
        row = self.create_model_instance(data)
        row.created_at = row.updated_at = timezone.now()
        meta = self.model._meta
        connection = connections[router.db_for_write(self.model, instance=row)]
        quote = connection.ops.quote_name
        fields = meta.concrete_fields
        columns = ", ".join(quote(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608 - the model's own table and columns, values as parameters # nosec B608
                f"ON CONFLICT ({quote(meta.pk.column)}) DO NOTHING RETURNING 1",
                [field.get_db_prep_save(getattr(row, field.attname), connection)
                 for field in fields])
            return cursor.fetchone() is not None
