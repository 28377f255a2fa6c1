"""Page weight of a tenant site: the HTML of the home page and of a service page plus the CSS
and JavaScript each references, raw and gzip-compressed, against the 100 KB budget.

    python -m infra.localservices run -- .venv/bin/python bench/page_weight.py \\
        [--database dgbox_bench_serve] [--budget-kb 100]

Pages are rendered in-process (Django's test client with the tenant's Host header, DEBUG
off) for a demo tenant (serve-000 of bench/serve.py's database; launched and filled with
demo content if missing). Referenced files are those of `<link rel="stylesheet">`,
`<link rel="modulepreload">`/`<link rel="preload" as="style|script">` and `<script src>`,
read through Django's static file finders (what `collectstatic` would ship); images are
not counted. Each page is counted as a first visit: its HTML plus every file it references.

Compressed sizes: static files with gzip level 9 (WhiteNoise compresses them ahead of time at
that level), HTML with gzip level 6 (a typical ingress/GZipMiddleware setting; nginx's default
level 1 gives a few per cent more).

The budget (--budget-kb, 1 KB = 1024 bytes) applies to the uncompressed bytes, the stricter
figure, as in tests/test_page_weight.py. Exit code: 0 within budget, 1 over budget, 2 if a
referenced file is missing (e.g. the front end has not been built). Figures are printed and
written to bench/results/page_weight.json.
"""

import argparse
import gzip
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_BYTES = 100 * 1024  # bytes transferred (compressed) per page, CSS/JS included
RAW_GUARD_BYTES = 150 * 1024  # uncompressed: a looser guard against silent growth
PAGES = {"home": "/ru/", "service": "/ru/services/building-permit/"}
HTML_GZIP_LEVEL = 6
STATIC_GZIP_LEVEL = 9


@dataclass
class Resource:
    url: str
    kind: str  # html, css, js
    raw: int = 0
    gzip: int = 0
    missing: bool = False


@dataclass
class PageWeight:
    name: str
    path: str
    resources: list[Resource] = field(default_factory=list)

    @property
    def raw(self) -> int:
        return sum(r.raw for r in self.resources)

    @property
    def gzip(self) -> int:
        return sum(r.gzip for r in self.resources)

    @property
    def missing(self) -> list[str]:
        return [r.url for r in self.resources if r.missing]

    def summary(self) -> str:
        parts = ", ".join(f"{r.url} {r.raw:,} B" + (" (missing)" if r.missing else "")
                          for r in self.resources)
        return f"{self.path}: {self.raw:,} bytes raw, {self.gzip:,} gzip ({parts})"


class ReferencedAssets(HTMLParser):
    """CSS and JavaScript a page makes the browser download (images are not followed)."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "script" and attrs.get("src"):
            self._add(attrs["src"], "js")
        elif tag == "link" and attrs.get("href"):
            rel = attrs.get("rel", "").lower().split()
            as_ = attrs.get("as", "").lower()
            if "stylesheet" in rel or ("preload" in rel and as_ == "style"):
                self._add(attrs["href"], "css")
            elif "modulepreload" in rel or ("preload" in rel and as_ == "script"):
                self._add(attrs["href"], "js")

    def _add(self, url, kind):
        if (url, kind) not in self.found:  # a preloaded file is downloaded once
            self.found.append((url, kind))


def referenced_assets(html: str) -> list[tuple[str, str]]:
    parser = ReferencedAssets()
    parser.feed(html)
    return parser.found


def gzip_size(data: bytes, level: int) -> int:
    return len(gzip.compress(data, compresslevel=level, mtime=0))


def read_static(url: str) -> bytes | None:
    """The bytes a static URL serves, from the static file finders (or STATIC_ROOT)."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith(settings.STATIC_URL):
        return None  # another host: not ours to serve, reported as missing
    name = parts.path[len(settings.STATIC_URL):]
    # Hashed names (ManifestStaticFilesStorage) come from the unhashed source file.
    for candidate in (name, re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", name)):
        found = finders.find(candidate)
        if found:
            return Path(found).read_bytes()
        collected = Path(settings.STATIC_ROOT) / candidate
        if collected.is_file():
            return collected.read_bytes()
    return None


def weigh(client, host: str, path: str, name: str = "") -> PageWeight:
    """Render `path` on `host` and weigh it with everything it references."""
    response = client.get(path, HTTP_HOST=host)
    if response.status_code != 200:
        raise RuntimeError(f"http://{host}{path} answered {response.status_code}")
    html = response.content
    page = PageWeight(name=name or path, path=path, resources=[
        Resource(url=path, kind="html", raw=len(html), gzip=gzip_size(html, HTML_GZIP_LEVEL))])
    for url, kind in referenced_assets(html.decode(response.charset or "utf-8")):
        data = read_static(url)
        if data is None:
            page.resources.append(Resource(url=url, kind=kind, missing=True))
        else:
            page.resources.append(Resource(url=url, kind=kind, raw=len(data),
                                           gzip=gzip_size(data, STATIC_GZIP_LEVEL)))
    return page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="dgbox_bench_serve",
                        help="database of the demo tenant (shared with bench/serve.py)")
    parser.add_argument("--budget-kb", type=float, default=BUDGET_BYTES / 1024)
    args = parser.parse_args()
    budget = int(args.budget_kb * 1024)

    from bench.serve import _prepare_tenants, database_url

    os.environ["DATABASE_URL"] = database_url(args.database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dgbox.settings.base"
    os.environ["DGBOX_DEBUG"] = "0"
    os.environ.setdefault("DGBOX_LOG_LEVEL", "ERROR")
    import warnings

    import django

    # WhiteNoise warns that STATIC_ROOT was never collected; files are read via the finders.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.conf import settings
    from django.test import Client
    from rich.console import Console
    from rich.table import Table

    from demo.site import populate
    from tenants.models import Tenant

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)
    with console.status("Making sure the demo tenant exists..."):
        _prepare_tenants(1, populate)
    tenant = Tenant.objects.get(slug="serve-000")
    host = tenant.primary_domain
    client = Client()
    pages = [weigh(client, host, path, name) for name, path in PAGES.items()]

    table = Table(title=f"Page weight of {host}, budget {budget:,} bytes uncompressed",
                  title_justify="left")
    for column in ("page", "file", "raw bytes", "gzip bytes"):
        table.add_column(column, justify="right" if "bytes" in column else "left")
    over, missing = [], []
    for page in pages:
        for i, r in enumerate(page.resources):
            table.add_row(page.name if i == 0 else "", r.url,
                          "[red]missing[/]" if r.missing else f"{r.raw:,}",
                          "-" if r.missing else f"{r.gzip:,}")
        verdict = "[green]within budget[/]" if page.gzip <= budget else "[red]OVER BUDGET[/]"
        table.add_row("", f"[bold]total[/] ({verdict})", f"[bold]{page.raw:,}[/]",
                      f"[bold]{page.gzip:,}[/]", end_section=True)
        over += [page] if page.gzip > budget else []
        missing += page.missing
    console.print(table)
    for url in dict.fromkeys(missing):
        console.print(f"[red]Missing:[/] {url} is referenced but no static file finder has it "
                      "(has the front end been built into cms/static/cms/? see frontend/).")
    for page in over:
        console.print(f"[red]Over budget:[/] {page.name} transfers {page.gzip:,} bytes "
                      f"compressed, {page.gzip - budget:,} over {budget:,} "
                      f"({page.raw:,} bytes uncompressed).")

    out = ROOT / "bench" / "results" / "page_weight.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "host": host, "budget_bytes": budget, "static_url": settings.STATIC_URL,
        "gzip_levels": {"html": HTML_GZIP_LEVEL, "static": STATIC_GZIP_LEVEL},
        "pages": [{"name": p.name, "path": p.path, "raw": p.raw, "gzip": p.gzip,
                   "within_budget": p.gzip <= budget, "missing": p.missing,
                   "resources": [asdict(r) for r in p.resources]} for p in pages],
    }, indent=2))
    console.print(f"Written to {out.relative_to(ROOT)}")
    if missing:
        return 2
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
