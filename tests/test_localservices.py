"""The embedded servers of `make demo` / `make test` (infra/localservices): the fresh-machine path
(forced here with DGBOX_FORCE_EMBEDDED), the `dgbox` command finding them, reused servers
checked and restarted, stale state reported with its log and `make clean-state`, and every
socket of SeaweedFS in its state folder."""

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from dgbox.cli import find_servers
from infra import localservices
from infra.localservices import answers, seaweed_ports

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import os, psycopg, redis
with psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://")) as c:
    print(c.execute("SELECT current_database(), current_setting('port')").fetchone())
print(redis.Redis.from_url(os.environ["REDIS_URL"]).ping())
"""
SERVER_VARIABLES = ("DATABASE_URL", "REDIS_URL", "DGBOX_S3_ENDPOINT_URL", "DGBOX_S3_ACCESS_KEY",
                    "DGBOX_S3_SECRET_KEY", "DGBOX_EMBEDDED_S3_PORT", "DJANGO_SETTINGS_MODULE")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    """A free port for a server, below the ephemeral range: one picked there (bind to port 0)
    can be taken by any outgoing connection before the server binds it."""
    for _ in range(200):
        port = random.randrange(12_000, 20_000)  # noqa: S311 - not a secret
        if _bindable(port):
            return port
    raise RuntimeError("no free port")


def _free_s3_port() -> int:
    """An S3 port whose SeaweedFS ports (seaweed_ports) are all free."""
    for _ in range(200):
        ports = seaweed_ports(_free_port())
        if all(_bindable(number) for number in ports.values()):
            return ports["s3"]
    raise RuntimeError("no free ports for SeaweedFS")


def _env(state: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh machine: no server given, the embedded ones in `state`."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    return {**env, "DGBOX_STATE_DIR": str(state), "DGBOX_FORCE_EMBEDDED": "1", **extra}


def _state_folder() -> Path:
    """A state folder the embedded PostgreSQL's user can reach (as root initdb runs as another
    user): not under pytest's basetemp, which every pytest run on the machine sets to 0700."""
    folder = Path(tempfile.mkdtemp(prefix="dgbox-localservices-"))
    folder.chmod(0o755)
    return folder


@pytest.fixture
def state():
    folder = _state_folder()
    yield folder
    _localservices(_env(folder), "stop")
    shutil.rmtree(folder, ignore_errors=True)


def _localservices(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.localservices", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_embedded_servers_start_answer_and_stop(state):
    env = {**os.environ, "DGBOX_STATE_DIR": str(state), "DGBOX_FORCE_EMBEDDED": "1",
           "DGBOX_EMBEDDED_PG_PORT": "55499", "DGBOX_EMBEDDED_REDIS_PORT": "56399"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "infra.localservices", "run", "--redis", "required",
             "--database", "fresh_machine", "--", sys.executable, "-c", PROBE],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert "('fresh_machine', '55499')" in proc.stdout
        assert "True" in proc.stdout
        assert "starting an embedded one" in proc.stderr
        assert (state / "postgres" / "PG_VERSION").exists()
    finally:
        subprocess.run([sys.executable, "-m", "infra.localservices", "stop"], cwd=ROOT,
                       env=env, capture_output=True, timeout=120)

    assert not answers("127.0.0.1", 55499)
    assert not answers("127.0.0.1", 56399)


# --- One embedded PostgreSQL and SeaweedFS for the tests below -----------------------------------

class Embedded:
    def __init__(self, state: Path, pg_port: int, s3_port: int, decoys: dict[Path, int]):
        self.state, self.pg_port, self.s3_port, self.decoys = state, pg_port, s3_port, decoys
        self.env = _env(state, DGBOX_EMBEDDED_PG_PORT=str(pg_port),
                        DGBOX_EMBEDDED_S3_PORT=str(s3_port))
        self.pgdata = state / "postgres"
        self.seaweed = state / "seaweedfs"

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def weed_pid(self) -> int:
        return int((self.seaweed / "weed.pid").read_text())


@pytest.fixture(scope="module")
def embedded():
    """`python -m infra.localservices start` on a fresh machine (embedded PostgreSQL and
    SeaweedFS, ports of their own). Before it, another checkout's SeaweedFS on the same ports
    in another network namespace is played by sockets bound at the paths in the shared /tmp
    where `weed` puts its gRPC sockets: ours must neither take them nor use them."""
    state = _state_folder()
    s3_port = _free_s3_port()
    grpc = {name: number for name, number in seaweed_ports(s3_port).items() if "gRPC" in name}
    decoys, listeners = {}, []
    for name, number in grpc.items():
        path = Path(f"/tmp/seaweedfs-{name.split()[0]}-grpc-{number}.sock")  # noqa: S108
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(path))
        listener.listen()
        listeners.append(listener)
        decoys[path] = path.stat().st_ino
    pg_port = next(port for port in iter(_free_port, None)
                   if port not in seaweed_ports(s3_port).values())
    servers = Embedded(state, pg_port, s3_port, decoys)
    try:
        started = _localservices(servers.env, "start")
        assert started.returncode == 0, started.stderr
        assert f"127.0.0.1:{servers.pg_port}/dgbox" in started.stdout
        assert f"DGBOX_S3_ENDPOINT_URL=http://127.0.0.1:{s3_port}" in started.stdout
        yield servers
    finally:
        _localservices(servers.env, "stop")
        for listener in listeners:
            listener.close()
        for path in decoys:
            path.unlink(missing_ok=True)
        shutil.rmtree(state, ignore_errors=True)
    assert not answers("127.0.0.1", servers.pg_port)
    assert not answers("127.0.0.1", s3_port)


# --- The dgbox command finds them --------------------------------------------------------------

CLI_PROBE = """
from django.conf import settings
from django.db import connection
from infra import s3
with connection.cursor() as cursor:
    cursor.execute("SELECT current_database(), current_setting('port')")
    print("database", *cursor.fetchone())
s3.client().list_buckets()
print("s3", settings.DGBOX_S3_ENDPOINT_URL)
"""


def test_dgbox_finds_the_running_embedded_servers_by_itself(embedded):
    dgbox = Path(sys.executable).parent / "dgbox"  # the console script, as in the README
    proc = subprocess.run([str(dgbox), "shell", "-c", CLI_PROBE], cwd=ROOT, env=embedded.env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"database dgbox {embedded.pg_port}" in proc.stdout
    assert f"s3 http://127.0.0.1:{embedded.s3_port}" in proc.stdout
    assert "starting" not in proc.stderr  # found, not started


def test_dgbox_without_servers_says_how_to_start_them(tmp_path):
    env = _env(tmp_path, DGBOX_EMBEDDED_PG_PORT=str(_free_port()))
    proc = subprocess.run([sys.executable, "-m", "dgbox.cli", "help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "python -m infra.localservices start" in proc.stderr
    assert not (tmp_path / "postgres").exists()  # nothing was started


def test_dgbox_uses_only_the_environment_outside_development(embedded, monkeypatch):
    for name in ("DGBOX_STATE_DIR", "DGBOX_FORCE_EMBEDDED", "DGBOX_EMBEDDED_PG_PORT"):
        monkeypatch.setenv(name, embedded.env[name])
    given = {"DJANGO_SETTINGS_MODULE": "dgbox.settings.production"}
    find_servers(given)
    assert given == {"DJANGO_SETTINGS_MODULE": "dgbox.settings.production"}
    given = {"DJANGO_SETTINGS_MODULE": "dgbox.settings.dev", "DATABASE_URL": "postgres://x/y",
             "REDIS_URL": ""}
    find_servers(given)
    assert given["DATABASE_URL"] == "postgres://x/y" and given["REDIS_URL"] == ""
    assert given["DGBOX_S3_ENDPOINT_URL"] == f"http://127.0.0.1:{embedded.s3_port}"


# --- Every socket of SeaweedFS in its state folder ----------------------------------------------

def test_seaweedfs_keeps_its_sockets_in_its_state_folder(embedded):
    ports = seaweed_ports(embedded.s3_port)
    private = embedded.seaweed / "tmp"
    expected = [private / f"seaweedfs-{name}-grpc-{ports[name + ' gRPC']}.sock"
                for name in ("master", "volume", "filer", "s3", "admin")]
    deadline = time.monotonic() + 60  # S3 answers before every part has its socket
    while not all(path.is_socket() for path in expected) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [path.name for path in expected if not path.is_socket()] == []
    # The other server's sockets in the shared /tmp were neither replaced nor removed...
    for path, inode in embedded.decoys.items():
        assert path.is_socket() and path.stat().st_ino == inode
    # ... and ours listens only on its own (ss shows the names as the server sees them).
    listening = subprocess.run(["ss", "-Hxlp"], capture_output=True, text=True).stdout
    ours = [line for line in listening.splitlines() if f"pid={embedded.weed_pid()}," in line]
    assert len(ours) >= 5
    assert not list(Path("/tmp").glob(f"weed*.{embedded.weed_pid()}"))  # noqa: S108 - logs too
    # It works although every gRPC socket path in the shared /tmp leads to another server.
    proc = _localservices(embedded.env, "start")
    assert proc.returncode == 0, proc.stderr
    assert "SeaweedFS" not in proc.stderr  # reused as it is


# --- Reused servers are checked and restarted -------------------------------------------------

def test_reused_postgres_that_does_not_answer_is_restarted(embedded):
    before = embedded.postmaster_pid()
    os.kill(before, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        proc = _localservices(embedded.env, "start")
    finally:
        if localservices.common.alive(before):
            os.kill(before, signal.SIGCONT)
    assert proc.returncode == 0, proc.stderr
    assert "does not answer a query" in proc.stderr and "restarting it" in proc.stderr
    assert embedded.postmaster_pid() != before
    assert localservices.postgres.query_problem(embedded.pg_port) is None


FAKE_S3 = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Broken(BaseHTTPRequestHandler):
    def answer(self):
        body = b"<Error><Code>InternalError</Code><Message>broken</Message></Error>"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_PUT = do_POST = do_HEAD = answer
    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Broken).serve_forever()
"""


def test_reused_seaweedfs_that_fails_s3_calls_is_restarted_if_ours(embedded):
    """A server answering 500 to every call (as ours did once another checkout's server took
    its sockets): one of another state folder is left alone, ours is restarted."""
    localservices.stop_seaweedfs(embedded.seaweed)
    port = embedded.s3_port
    fake = subprocess.Popen([sys.executable, "-c", FAKE_S3, str(port), "mini",
                             f"-dir={embedded.seaweed}", f"-s3.port={port}"])
    try:
        deadline = time.monotonic() + 30
        while not answers("127.0.0.1", port):
            assert time.monotonic() < deadline and fake.poll() is None
            time.sleep(0.1)
        foreign = _localservices(embedded.env, "start")
        assert foreign.returncode == 1
        assert "InternalError" in foreign.stderr and "so it is left alone" in foreign.stderr
        assert "Traceback" not in foreign.stderr and fake.poll() is None

        (embedded.seaweed / "weed.pid").write_text(f"{fake.pid}\n")  # now it is ours
        ours = _localservices(embedded.env, "start")
        assert ours.returncode == 0, ours.stderr
        assert "fails a signed S3 call" in ours.stderr and "restarting it" in ours.stderr
        assert fake.wait(30) is not None
        assert b"mini" in localservices.common.cmdline(embedded.weed_pid())
    finally:
        if fake.poll() is None:
            fake.kill()


def test_a_running_seaweedfs_of_this_folder_is_reused_on_whichever_port_it_took(embedded):
    """A run without DGBOX_EMBEDDED_S3_PORT tries the default port first; when this folder's
    server already runs on another port (it took one of its own because the default was busy
    then), that server is reused, not a second one started on the same folder (which failed on
    the filer store's lock)."""
    env = {k: v for k, v in embedded.env.items() if k != "DGBOX_EMBEDDED_S3_PORT"}
    before = embedded.weed_pid()
    again = _localservices(env, "start")
    assert again.returncode == 0, again.stderr
    assert "starting SeaweedFS" not in again.stderr
    assert embedded.weed_pid() == before and localservices.common.alive(before)


def test_reused_redis_is_pinged_and_restarted_if_ours(tmp_path, monkeypatch):
    for name in SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DGBOX_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DGBOX_FORCE_EMBEDDED", "1")
    monkeypatch.setenv("DGBOX_EMBEDDED_REDIS_PORT", str(_free_port()))
    monkeypatch.setattr(localservices.redis, "HEALTH_PATIENCE", 2)
    try:
        url = localservices.ensure_redis(required=True)
        before = int((tmp_path / "redis" / "redis.pid").read_text())
        os.kill(before, signal.SIGSTOP)
        assert localservices.ensure_redis(required=True) == url
        assert int((tmp_path / "redis" / "redis.pid").read_text()) != before
        assert localservices.redis.ping_problem(int(url.split(":")[2].split("/")[0])) is None
    finally:
        localservices.stop()

    # Something else on the port is reported, not killed.
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        threading.Thread(target=lambda: other.accept()[0].sendall(b"-ERR who?\r\n"),
                         daemon=True).start()
        monkeypatch.setenv("DGBOX_EMBEDDED_REDIS_PORT", str(other.getsockname()[1]))
        with pytest.raises(localservices.LocalServiceError, match="does not answer as Redis"):
            localservices.ensure_redis(required=True)


# --- Stale state: what happened, its log, `make clean-state` ---------------------------------

def _copy_data_dir(embedded: Embedded, state: Path) -> Path:
    """A copy of a real data directory (owners kept: it may belong to the embedded_postgres
    user)."""
    subprocess.run(["cp", "-a", str(embedded.pgdata), str(state / "postgres")], check=True)
    (state / "postgres" / "log").write_text("")
    return state / "postgres"


def _assert_actionable(proc: subprocess.CompletedProcess[str], log: Path) -> None:
    assert proc.returncode == 1
    assert str(log) in proc.stderr and "make clean-state" in proc.stderr
    assert "Traceback" not in proc.stderr and "CalledProcessError" not in proc.stderr


def test_postgres_data_dir_of_another_version_is_reported(embedded, state):
    pgdata = _copy_data_dir(embedded, state)
    (pgdata / "postmaster.pid").unlink()
    (pgdata / "PG_VERSION").write_text("9\n")
    env = _env(state, DGBOX_EMBEDDED_PG_PORT=str(_free_port()))
    proc = _localservices(env, "run", "--", "true")
    _assert_actionable(proc, pgdata / "log")
    assert f"the embedded PostgreSQL in {pgdata} did not start" in proc.stderr
    assert "made by PostgreSQL 9 and the embedded server is PostgreSQL" in proc.stderr
    assert "incompatible" in proc.stderr  # from the log


def test_postmaster_pid_left_behind_is_reported(embedded, state):
    pgdata = _copy_data_dir(embedded, state)
    port = _free_port()
    # A server that died without cleaning up, and its pid now belongs to another program of
    # the server's user (PostgreSQL ignores the file when that pid is gone or another user's).
    owner = pwd.getpwnam(localservices.postgres.SERVER_USER) if os.geteuid() == 0 else None
    other = subprocess.Popen(["sleep", "300"], user=owner.pw_uid if owner else None,
                             group=owner.pw_gid if owner else None)
    try:
        (pgdata / "postmaster.pid").write_text(
            f"{other.pid}\n{pgdata}\n1700000000\n{port}\n{pgdata}\n127.0.0.1\n  0  0\nready\n")
        env = _env(state, DGBOX_EMBEDDED_PG_PORT=str(port))
        proc = _localservices(env, "run", "--", "true")
    finally:
        other.kill()
        other.wait()
    _assert_actionable(proc, pgdata / "log")
    assert f"{pgdata / 'postmaster.pid'} was left behind" in proc.stderr
    assert f"({other.pid}) is now" in proc.stderr and "sleep" in proc.stderr


def test_seaweedfs_that_will_not_start_is_reported(tmp_path):
    port = _free_s3_port()
    folder = tmp_path / "seaweedfs"
    folder.mkdir()
    (folder / f"m{port + 1}").write_text("not the master's folder")  # a damaged state folder
    env = _env(tmp_path, DGBOX_EMBEDDED_S3_PORT=str(port), DATABASE_URL="postgres://unused/x",
               REDIS_URL="")
    try:
        proc = _localservices(env, "run", "--", "true")
    finally:
        _localservices(env, "stop")
    _assert_actionable(proc, folder / "weed.log")
    assert "SeaweedFS exited while starting" in proc.stderr
