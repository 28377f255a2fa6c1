"""Public media on S3: what streaming an image through the tenant's site costs, against the
S3 server serving the same object itself (what a public-read object or a CDN miss costs).

    python -m infra.localservices run -- .venv/bin/python bench/media_serve.py \\
        [--requests 200] [--rounds 7]

What runs: a database of its own (--database, created on the first run and kept; --fresh
drops it first) with one tenant holding one photo-like JPEG (about 150 KB) and one rendition
of it, on the loopback SeaweedFS.

Sides, interleaved round by round (the order alternates), the same object each time:

1. **S3 direct** (baseline): a plain HTTP GET of a presigned link to the rendition, answered
   by SeaweedFS itself: the bytes a browser would fetch from a public-read object.
2. **Through the site**: GET `/media/images/...` on the tenant's host through Django's full
   WSGI stack in this process (routing, middleware, `cms.media.public_media`), which reads
   the object from S3 and streams it.
3. **Through the site, revalidated**: the same with `If-None-Match` (a 304, what a browser or
   CDN holding the immutable copy would send if it asked at all).

Median requests per second over the rounds, and this process's CPU time per request (for
side 1 that is the client's only; SeaweedFS's own CPU is not counted on any side). Figures
are printed and written to bench/results/media_serve.json. A measurement, never a test.
"""

import argparse
import datetime
import http.client
import io
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SLUG = "media-bench"


def prepare(console):
    from django.core.files.images import ImageFile
    from django.db import connection
    from django_tenants.utils import tenant_context
    from PIL import Image as PILImage
    from wagtail.images.models import Image

    from bench.common import migrate_once
    from tenants.launch import LaunchRequest, launch_tenant
    from tenants.models import Tenant

    migrate_once(console)
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        launch_tenant(LaunchRequest(name="Media bench", kind="region", slug=SLUG,
                                    admin_email=f"admin@{SLUG}.example"))
        tenant = Tenant.objects.get(slug=SLUG)
    with tenant_context(tenant):
        image = Image.objects.filter(title="bench").first()
        if image is None:
            rng = random.Random(3)  # noqa: S311 - photo-like noise, not a secret
            picture = PILImage.new("RGB", (1200, 900))
            picture.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                             for _ in range(1200 * 900)])
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=60)
            image = Image.objects.create(title="bench", file=ImageFile(buffer, "bench.jpg"))
        rendition = image.get_rendition("fill-800x600")
        key = image.file.storage.key_for(rendition.file.name)
        url = rendition.url
    connection.set_schema_to_public()
    return tenant, url, key


def rounds(host, url, key, requests, count, console):
    from django.test import Client

    from infra import s3

    signed = urlsplit(s3.signed_url(key, seconds=3600))
    target = f"{signed.path}?{signed.query}"
    connection = http.client.HTTPConnection(signed.hostname, signed.port, timeout=30)

    def direct():
        connection.request("GET", target)
        answer = connection.getresponse()
        body = answer.read()
        assert answer.status == 200, answer.status
        return len(body)

    client = Client()
    etag = client.get(url, HTTP_HOST=host)["ETag"]

    def site():
        response = client.get(url, HTTP_HOST=host)
        assert response.status_code == 200, response.status_code
        return len(b"".join(response.streaming_content))

    def revalidated():
        response = client.get(url, HTTP_HOST=host, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304, response.status_code
        return 0

    sides = {"S3 direct (presigned GET)": direct, "through the site (/media/)": site,
             "through the site, If-None-Match (304)": revalidated}
    size = direct()
    assert site() == size
    results = {name: {"rps": [], "cpu_ms": []} for name in sides}
    for round_no in range(count):
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in order:
            fetch = sides[name]
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(requests):
                fetch()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results[name]["rps"].append(requests / wall)
            results[name]["cpu_ms"].append(cpu / requests * 1000)
        console.print(f"  round {round_no + 1}: " + ", ".join(
            f"{n} {results[n]['rps'][-1]:.0f} req/s" for n in order))
    connection.close()
    return size, {name: {"rps": statistics.median(r["rps"]),
                         "cpu_ms": statistics.median(r["cpu_ms"])}
                  for name, r in results.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per side per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--database", default="dgbox_bench_media")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()

    from bench.common import setup_django

    setup_django(args.database, args.fresh, DGBOX_PUBLIC_MEDIA="s3")
    from django.conf import settings
    from rich.console import Console
    from rich.table import Table

    from infra.s3 import ensure_bucket

    console = Console()
    ensure_bucket()
    load_before = os.getloadavg()
    tenant, url, key = prepare(console)
    host = f"{tenant.slug}.{settings.BASE_DOMAIN}"
    size, figures = rounds(host, url, key, args.requests, args.rounds, console)
    load_after = os.getloadavg()

    base = figures["S3 direct (presigned GET)"]
    table = Table(title=f"A {size / 1024:.0f} KB rendition, {args.requests} requests x "
                        f"{args.rounds} rounds per side", title_justify="left")
    for column in ("side", "req/s (median)", "of S3 direct", "CPU ms/request here"):
        table.add_column(column)
    for name, figure in figures.items():
        table.add_row(name, f"{figure['rps']:.0f}", f"{figure['rps'] / base['rps']:.0%}",
                      f"{figure['cpu_ms']:.2f}")
    console.print(table)
    console.print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
                  f"({os.cpu_count()} CPUs, shared machine)")
    out = ROOT / "bench" / "results" / "media_serve.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "bytes": size, "requests": args.requests, "rounds": args.rounds, "sides": figures,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average": {"before": load_before, "after": load_after},
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat()}, indent=2))
    console.print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
