"""The serving part of bench/fleet_scale.py: what one web worker and its PostgreSQL backend
hold after serving pages of every tenant, with and without connection recycling; and the
national portal's and the operator console's response times with the whole fleet present.

Two gunicorn instances (1 worker x 1 thread each, the settings of the run) differ only in
DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION: 0 (never recycle) and N. Each tenant's home page is
requested from one then the other (the order alternating), so both see the same machine load.
At checkpoints the worker's RSS and USS (psutil) and its backend's memory are read: the backend
is found from the worker's TCP connection to PostgreSQL (pg_stat_activity.client_port), and its
private memory read from /proc/<pid>/status (RssAnon: the caches are the backend's own heap;
shared buffers are RssShmem and not counted). PostgreSQL must run on this machine for that.
"""

import contextlib
import http.client
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from bench.common import Gunicorn

CHECKPOINTS = (1, 10, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000)


class Side:
    """One gunicorn worker and the HTTP connection the benchmark keeps to it."""

    def __init__(self, name: str, max_schemas: int, redis_url: str, log_dir: Path):
        env = {**os.environ, "REDIS_URL": redis_url,
               "DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION": str(max_schemas)}
        self.name = name
        self.server = Gunicorn(env, log_dir / f"{name}.log", workers=1, threads=1)
        self.worker = psutil.Process(self.server.pids()[-1])
        self.http = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        self.seconds: list[float] = []
        self.errors = 0
        self.backends: set[int] = set()
        self.cpu_start = self._cpu()

    def _cpu(self) -> float:
        times = self.worker.cpu_times()
        return times.user + times.system

    def get(self, host: str, path: str = "/") -> tuple[float, int]:
        """GET as a browser would: one redirect (`/` to the language's `/ru/`) followed and
        counted in the time."""
        started = time.perf_counter()
        status, location, body = self._fetch(host, path)
        if status in (301, 302) and location:
            status, location, body = self._fetch(host, location)
        elapsed = time.perf_counter() - started
        if status != 200:
            self.errors += 1
        return elapsed, len(body)

    def _fetch(self, host: str, path: str) -> tuple[int, str, bytes]:
        try:
            self.http.request("GET", path, headers={"Host": host})
            response = self.http.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # gunicorn closed the idle keep-alive connection (its keepalive is 2 s): again.
            self.http.close()
            self.http.request("GET", path, headers={"Host": host})
            response = self.http.getresponse()
        body = response.read()
        return response.status, response.getheader("Location") or "", body

    def memory(self, backend_memory: Callable[[int], dict[str, int]],
               backend_of: Callable[[int], int | None]) -> dict[str, object]:
        info = self.worker.memory_full_info()
        backend = backend_of(self.worker.pid)
        if backend is not None:
            self.backends.add(backend)
        return {"worker_rss_mb": round(info.rss / 2**20, 1),
                "worker_uss_mb": round(info.uss / 2**20, 1),
                "backend_pid": backend,
                **(backend_memory(backend) if backend else {}),
                "backends_so_far": len(self.backends)}

    def cpu_ms_per_request(self) -> float:
        return round((self._cpu() - self.cpu_start) * 1000 / max(1, len(self.seconds)), 2)

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


def backend_of(worker_pid: int) -> int | None:
    """The PostgreSQL backend serving the worker's open connection, if it has one."""
    from django.db import connection

    ports = [c.laddr.port for c in psutil.Process(worker_pid).net_connections("tcp")
             if c.raddr and c.raddr.port == int(connection.settings_dict["PORT"] or 5432)]
    if not ports:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s) "
                       "AND datname = current_database()", [ports])
        row = cursor.fetchone()
    return int(row[0]) if row else None


def backend_memory(pid: int) -> dict[str, int]:
    """The backend's resident memory from /proc (kB -> MB): all of it, and its private heap."""
    fields = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[f"backend_{key.lower()}_mb"] = round(int(value.split()[0]) / 1024, 1)
    return fields


def measure(slugs: list[str], recycle_after: int, redis_url: str,
            say: Callable[[str], None]) -> dict:
    from django.conf import settings

    log_dir = Path(tempfile.mkdtemp(prefix="dgbox-fleet-serve-"))
    sides = [Side("no recycling", 0, redis_url, log_dir),
             Side(f"recycle after {recycle_after}", recycle_after, redis_url, log_dir)]
    checkpoints = [c for c in CHECKPOINTS if c < len(slugs)] + [len(slugs)]
    result: dict[str, object] = {"tenants": len(slugs), "recycle_after": recycle_after,
                                 "checkpoints": {}}
    try:
        say(f"Serving every tenant's home page from two workers ({sides[1].name} and not)")
        for i, slug in enumerate(slugs, start=1):
            order = sides if i % 2 else list(reversed(sides))
            for side in order:
                side.seconds.append(side.get(f"{slug}.{settings.BASE_DOMAIN}")[0])
            if i in checkpoints:
                row = {side.name: side.memory(backend_memory, backend_of) for side in sides}
                result["checkpoints"][i] = row  # type: ignore[index]
                say(f"  after {i:5} tenants: " + "; ".join(
                    f"{name}: worker USS {m['worker_uss_mb']} MB, backend RssAnon "
                    f"{m.get('backend_rssanon_mb', '-')} MB" for name, m in row.items()))
        result["pages"] = {side.name: {"p50_ms": round(statistics.median(side.seconds) * 1000, 1),
                                       "p95_ms": round(_p95(side.seconds) * 1000, 1),
                                       "cpu_ms_per_request": side.cpu_ms_per_request(),
                                       "errors": side.errors,
                                       "backends": len(side.backends)}
                           for side in sides}
        say(f"  pages: {result['pages']}")
        result["portal"] = _portal(sides, settings.BASE_DOMAIN)
        say(f"  national portal: {result['portal']}")
    finally:
        for side in sides:
            side.stop()
    result["console"] = _console(settings.BASE_DOMAIN)
    say(f"  operator console home: {result['console']}")
    return result


def _portal(sides: list[Side], host: str, requests: int = 20) -> dict[str, object]:
    times: list[float] = []
    size = 0
    for i in range(requests):
        side = sides[i % 2]
        elapsed, size = side.get(host)
        times.append(elapsed)
    return {"p50_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(_p95(times) * 1000, 1), "bytes": size}


def _console(host: str, requests: int = 10) -> dict[str, object]:
    """The console home in this process (Django's test client, a signed-in superuser)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    connection.set_schema_to_public()
    user, _ = get_user_model().objects.get_or_create(
        username="fleet-operator", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    status = client.get("/operator/", HTTP_HOST=host).status_code
    times, size = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/operator/", HTTP_HOST=host)
        times.append(time.perf_counter() - started)
        size = len(response.content)
    return {"status": status, "p50_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(_p95(times) * 1000, 1), "bytes": size}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
