"""Helpers shared by the benchmarks."""

import os
from urllib.parse import urlsplit, urlunsplit


def database_url(name: str, fresh: bool) -> str:
    """URL of the benchmark's own database `name` on the configured (or embedded) server;
    dropped first when `fresh`."""
    import psycopg

    from infra.localservices import ensure_database, ensure_postgres

    base = os.environ.get("DATABASE_URL") or ensure_postgres(name)
    url = urlunsplit(urlsplit(base)._replace(path="/" + name))
    if fresh:
        parts = urlsplit(url)
        with psycopg.connect(host=parts.hostname, port=parts.port or 5432,
                             user=parts.username or None, password=parts.password or None,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ensure_database(url)
    return url
