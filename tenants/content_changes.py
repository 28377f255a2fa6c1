"""Which transactions changed a tenant's content, counted by PostgreSQL itself.

The tenant's cache (tenants/tenant_cache.py) learns of changes made through the ORM from
Django's signals. What they miss (raw SQL, a queryset's `update()`, a process that ended
before Redis took the new generation) was bounded only by computing every entry again at
the tenant's renewal, which for a tenant's pages means its catalog load in PostgreSQL and
rendering: some 50 ms a tenant, which one process serving 1,000 tenants paid about once a
second. Here PostgreSQL counts the changes instead, so that a renewal is one query on the
public schema when nothing changed.

Every table whose rows a cached entry is made of (`tenant_cache.content_tables()`) carries a
statement trigger, `dgbox_content_changed` (created by the migrations of the apps that own
the tables, with `watch_tables()`), which adds one row per transaction to
`public.tenants_contentchange` for the table's schema. A tenant's **content version**
(`version()`) is the sum of its rows' weights: it grows with every committed transaction
that wrote to its content, and never otherwise (a rolled-back transaction's row goes with
it). The log is append-only, so writers take no lock that another tenant, or another writer
of the same tenant, waits for (a counter row updated by every writer would have turned two
editors' waits into deadlocks). `compact()` folds each schema's rows into one of the same
total weight, in one transaction, so that a reader sees the same version before and after;
beat runs it daily.

A version read *before* computing an entry is the version of what the entry was computed
from or older; if it is unchanged at the renewal, no change committed since, and the entry
is renewed as it is. A table without the trigger is not seen: the tenant's cache computes
every entry again at least once a day whatever the version says (`tenant_cache.LONGEST`).
"""

from django.db import connection, migrations

#: The trigger's name on every content table, and its function's in the public schema
#: (spelt out in CREATE_LOG).
TRIGGER = "dgbox_content_changed"

#: The log, its index, and the function every trigger calls. `weight` lets `compact()` fold
#: rows without changing the sum; `xact` keeps one row per transaction (the function
#: looks for its own transaction's row first, an index lookup).
CREATE_LOG = """
CREATE TABLE public.tenants_contentchange (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_name varchar(63) NOT NULL,
    xact xid8 NOT NULL DEFAULT pg_current_xact_id(),
    weight bigint NOT NULL DEFAULT 1
);
CREATE INDEX tenants_contentchange_schema ON public.tenants_contentchange
    (schema_name, xact) INCLUDE (weight);
CREATE FUNCTION public.dgbox_content_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.tenants_contentchange
                   WHERE schema_name = TG_TABLE_SCHEMA AND xact = pg_current_xact_id()) THEN
        INSERT INTO public.tenants_contentchange (schema_name) VALUES (TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END
$$;
"""
DROP_LOG = """
DROP FUNCTION IF EXISTS public.dgbox_content_changed() CASCADE;
DROP TABLE IF EXISTS public.tenants_contentchange;
"""


def watch_tables(*tables: str) -> migrations.RunSQL:
    """A migration operation giving `tables` (of the schema being migrated) the trigger.
    An app adds one to a migration of its own whenever it gives the tenant's cache a table
    to read; tests/test_content_changes.py lists the tables that lack it."""
    create = tuple(f'CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
                   f'ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION public.{TRIGGER}()'
                   for table in tables)
    drop = tuple(f'DROP TRIGGER IF EXISTS {TRIGGER} ON "{table}"' for table in tables)
    return migrations.RunSQL(create, drop, elidable=False)


def version(schema_name: str) -> int:
    """The content version of `schema_name` (0 before its first change)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(weight), 0) FROM public.tenants_contentchange "
                       "WHERE schema_name = %s", [schema_name])
        return int(cursor.fetchone()[0])


def compact() -> int:
    """Fold each schema's rows of the log into one of the same weight, in one transaction
    (readers see the same versions before and after; rows committed meanwhile are left for
    the next time). Returns how many rows were removed."""
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH folded AS (
                DELETE FROM public.tenants_contentchange
                WHERE schema_name IN (SELECT schema_name FROM public.tenants_contentchange
                                      GROUP BY schema_name HAVING count(*) > 1)
                RETURNING schema_name, weight
            ), added AS (
                INSERT INTO public.tenants_contentchange (schema_name, weight)
                SELECT schema_name, sum(weight) FROM folded GROUP BY schema_name
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM folded) - (SELECT count(*) FROM added)
        """)
        return int(cursor.fetchone()[0])


def triggered_tables(schema_name: str) -> set[str]:
    """The tables of `schema_name` that carry the trigger."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE t.tgname = %s AND n.nspname = %s
        """, [TRIGGER, schema_name])
        return {row[0] for row in cursor.fetchall()}
