"""Page weight of a tenant site as a browser transfers it from the running server: the home
page and a service page with the CSS and JavaScript each references, against a 100 KB budget.

    python -m infra.localservices run -- .venv/bin/python bench/page_weight.py \\
        [--database dgbox_bench_serve] [--budget-kb 100]

What is served: the demo tenant serve-000 (bench/serve.py's database; launched and filled with
demo content if missing) by gunicorn on a free loopback port with dgbox.settings.production
(only the TLS redirect off: plain HTTP on loopback), its static files collected the way the
image does it (`collectstatic` with WhiteNoise's CompressedManifestStaticFilesStorage: hashed
names, gzip and Brotli copies made ahead of time).

What is measured: every page is fetched as Chromium asks for it (`Accept-Encoding: gzip,
deflate, br, zstd`), then every stylesheet and script it references (`<link
rel="stylesheet">`, `<link rel="modulepreload">`, `<link rel="preload" as="style|script">`,
`<script src>`; images are not followed). Bytes are counted as they arrive: the response
headers plus the body as encoded on the wire ("transferred", as in the browser's network
panel), and the decoded body ("raw"). A first visit transfers the HTML and every file; a
repeat visit only the HTML, since static files have hashed names and are cached for years
(`Cache-Control: max-age=315360000, immutable`, checked here). The baseline, in the same run
from the same server: the same requests without Accept-Encoding (what every page cost before
the application compressed its responses).

The budget (--budget-kb, 1 KB = 1024 bytes) applies to a first visit's transferred bytes, as
in tests/test_page_weight.py, with a looser guard on raw bytes (150 KB) so that growth is
caught even while compression hides it. Exit code: 0 within budget, 1 over budget, 2 if a
referenced file is missing (e.g. the front end has not been built). Figures are printed and
written to bench/results/page_weight.json.
"""

import argparse
import gzip
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import brotli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_BYTES = 100 * 1024  # bytes transferred on a first visit, CSS/JS included
RAW_GUARD_BYTES = 150 * 1024  # decoded: a looser guard against silent growth
PAGES = {"home": "/ru/", "service": "/ru/services/building-permit/",
         "how-we-are-doing": "/ru/how-we-are-doing/"}
BROWSER_ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends
IMMUTABLE_SECONDS = 365 * 24 * 3600  # static files must be cached at least this long
# Admin-only static files no public page references; tests leave them out of collectstatic.
ADMIN_STATIC = ("wagtail*", "rest_framework")


@dataclass
class Resource:
    url: str
    kind: str  # html, css, js
    status: int = 0
    transferred: int = 0  # response headers + body as sent
    raw: int = 0  # body decoded
    encoding: str = ""  # Content-Encoding ("" = none)
    cache_control: str = ""
    vary: str = ""
    missing: bool = False

    @property
    def max_age(self) -> int:
        found = re.search(r"max-age=(\d+)", self.cache_control)
        return int(found[1]) if found else 0


@dataclass
class PageWeight:
    name: str
    path: str
    resources: list[Resource] = field(default_factory=list)

    @property
    def transferred(self) -> int:
        """A first visit: the page and everything it references."""
        return sum(r.transferred for r in self.resources)

    @property
    def repeat_visit(self) -> int:
        """A later visit: static files come from the browser's cache."""
        return sum(r.transferred for r in self.resources if r.kind == "html")

    @property
    def raw(self) -> int:
        return sum(r.raw for r in self.resources)

    @property
    def missing(self) -> list[str]:
        return [r.url for r in self.resources if r.missing]

    def summary(self) -> str:
        parts = ", ".join(
            f"{r.url} {r.transferred:,} B {r.encoding or 'identity'}"
            + (f" (missing, {r.status})" if r.missing else "") for r in self.resources)
        return f"{self.path}: {self.transferred:,} bytes transferred, {self.raw:,} raw ({parts})"


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


def decode(body: bytes, encoding: str) -> bytes:
    """The body as the browser hands it to the page."""
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        return brotli.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    raise ValueError(f"cannot decode Content-Encoding {encoding!r}")


def fetch(server: str, host: str, url: str, kind: str,
          accept_encoding: str | None = BROWSER_ACCEPT_ENCODING,
          accept: str = "text/html,text/css,*/*;q=0.8") -> tuple[Resource, bytes]:
    """GET `url` from `server` (host:port) with Host `host`, counting bytes as they arrive."""
    parts = urlsplit(url)
    if parts.netloc and parts.netloc.split(":")[0] != host:
        return Resource(url=url, kind=kind, missing=True), b""  # another host: not ours
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Host": host, "Accept": accept, "User-Agent": "dgbox-page-weight"}
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    address, port = server.rsplit(":", 1)
    conn = http.client.HTTPConnection(address, int(port), timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()  # http.client undoes chunking, never Content-Encoding
    finally:
        conn.close()
    head = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + sum(
        len(f"{name}: {value}\r\n") for name, value in response.getheaders()) + 2
    encoding = (response.getheader("Content-Encoding") or "").strip().lower()
    decoded = decode(body, encoding)
    resource = Resource(url=url, kind=kind, status=response.status,
                        transferred=head + len(body), raw=len(decoded), encoding=encoding,
                        cache_control=response.getheader("Cache-Control") or "",
                        vary=response.getheader("Vary") or "",
                        missing=response.status != 200)
    return resource, decoded


def weigh(server: str, host: str, path: str, name: str = "",
          accept_encoding: str | None = BROWSER_ACCEPT_ENCODING) -> PageWeight:
    """Fetch `path` on `host` and everything it references, as a browser would."""
    page_resource, html = fetch(server, host, path, "html", accept_encoding)
    if page_resource.status != 200:
        raise RuntimeError(f"http://{host}{path} answered {page_resource.status}")
    page = PageWeight(name=name or path, path=path, resources=[page_resource])
    for url, kind in referenced_assets(html.decode("utf-8")):
        page.resources.append(fetch(server, host, url, kind, accept_encoding)[0])
    return page


# --- The production-like server ---------------------------------------------------------------


def production_env(database_url: str, static_root: Path) -> dict:
    """Environment of dgbox.settings.production on loopback: plain HTTP, a throwaway key,
    the per-process cache (never a shared Redis), the given database and static files."""
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.production",
        "DGBOX_SECRET_KEY": secrets.token_urlsafe(64),
        "DGBOX_SSL_REDIRECT": "0",
        "DGBOX_SITE_SCHEME": "http",
        "DATABASE_URL": database_url,
        "DGBOX_STATIC_ROOT": str(static_root),
        "REDIS_URL": "",
        "DGBOX_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    })
    return env


def collect_static(parent: Path, ignore: tuple[str, ...] = ()) -> Path:
    """Static files collected as the image collects them, in a folder of `parent` named after
    the sources' fingerprint: reused while no source file changes. `ignore`: collectstatic
    --ignore patterns (e.g. ADMIN_STATIC, which no public page references)."""
    from django.contrib.staticfiles import finders

    digest = hashlib.sha256(repr(sorted(ignore)).encode())
    for finder in finders.get_finders():
        for path, storage in sorted(finder.list(["CVS", ".*", "*~", *ignore]),
                                    key=lambda found: found[0]):
            stat = os.stat(storage.path(path))
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    root = parent / digest.hexdigest()[:16]
    if (root / "staticfiles.json").is_file():
        return root
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.iterdir():  # earlier fingerprints, or a collection cut short
        shutil.rmtree(old, ignore_errors=True)
    partial = parent / f"{root.name}.partial"
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v0",
         *(f"--ignore={pattern}" for pattern in ignore)],
        env=production_env("postgres://unused/unused", partial), cwd=ROOT, check=True)
    partial.rename(root)
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def production_server(database_url: str, static_root: Path, timeout: float = 120):
    """gunicorn (one worker) with production settings on a free loopback port; yields
    "127.0.0.1:<port>"."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "dgbox.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"],
        env=production_env(database_url, static_root), cwd=ROOT)
    server = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {proc.returncode}")
            try:
                if fetch(server, "127.0.0.1", "/healthz", "json")[0].status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer on {server} within {timeout} s")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- The benchmark -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="dgbox_bench_serve",
                        help="database of the demo tenant (shared with bench/serve.py)")
    parser.add_argument("--budget-kb", type=float, default=BUDGET_BYTES / 1024)
    args = parser.parse_args()
    budget = int(args.budget_kb * 1024)

    from bench.serve import _prepare_tenants, database_url

    url = database_url(args.database)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "dgbox.settings.base"
    os.environ["DGBOX_DEBUG"] = "0"
    os.environ.setdefault("DGBOX_LOG_LEVEL", "ERROR")
    import warnings

    import django

    # WhiteNoise warns that STATIC_ROOT was never collected; this process serves nothing.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.conf import settings
    from rich.console import Console
    from rich.table import Table

    from demo.site import populate
    from tenants.models import Tenant

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    with console.status("Making sure the demo tenant exists..."):
        _prepare_tenants(1, populate)
    host = Tenant.objects.get(slug="serve-000").primary_domain
    with console.status("Collecting static files as the image does (once per change)..."):
        static_root = collect_static(settings.STATE_DIR / "bench-static")
    with console.status("Starting gunicorn with production settings..."), \
            production_server(url, static_root) as server:
        pages = [weigh(server, host, path, name) for name, path in PAGES.items()]
        baseline = [weigh(server, host, path, name, accept_encoding=None)
                    for name, path in PAGES.items()]

    table = Table(title=f"Page weight of {host} from gunicorn (production settings), "
                        f"budget {budget:,} bytes transferred", title_justify="left")
    for column in ("page", "file", "encoding", "cache", "transferred", "raw",
                   "uncompressed baseline"):
        table.add_column(column, justify="right" if column in (
            "transferred", "raw", "uncompressed baseline") else "left")
    over, missing = [], []
    for page, base in zip(pages, baseline, strict=True):
        for i, (r, b) in enumerate(zip(page.resources, base.resources, strict=True)):
            cache = (f"{r.max_age // 86400:,} days" + (", immutable" if "immutable" in
                     r.cache_control else "")) if r.max_age else (r.cache_control or "-")
            table.add_row(page.name if i == 0 else "", r.url, r.encoding or "identity", cache,
                          "[red]missing[/]" if r.missing else f"{r.transferred:,}",
                          f"{r.raw:,}", f"{b.transferred:,}")
        verdict = ("[green]within budget[/]" if page.transferred <= budget
                   else "[red]OVER BUDGET[/]")
        table.add_row("", f"[bold]first visit[/] ({verdict})", "", "",
                      f"[bold]{page.transferred:,}[/]", f"{page.raw:,}",
                      f"{base.transferred:,}")
        table.add_row("", "[bold]repeat visit[/] (static files cached)", "", "",
                      f"{page.repeat_visit:,}", "", f"{base.repeat_visit:,}",
                      end_section=True)
        over += [page] if page.transferred > budget else []
        missing += page.missing
    console.print(table)
    console.print("'transferred': response headers + body as sent; 'raw': body decoded; "
                  "'uncompressed baseline': the same requests without Accept-Encoding.")
    for url_ in dict.fromkeys(missing):
        console.print(f"[red]Missing:[/] {url_} is referenced but the server does not serve "
                      "it (has the front end been built into cms/static/cms/? see frontend/).")
    for page in over:
        console.print(f"[red]Over budget:[/] {page.name} transfers {page.transferred:,} bytes, "
                      f"{page.transferred - budget:,} over {budget:,}.")

    out = ROOT / "bench" / "results" / "page_weight.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "host": host, "server": "gunicorn, dgbox.settings.production",
        "accept_encoding": BROWSER_ACCEPT_ENCODING, "budget_bytes": budget,
        "pages": [{"name": p.name, "path": p.path, "transferred": p.transferred,
                   "repeat_visit": p.repeat_visit, "raw": p.raw,
                   "uncompressed_baseline": b.transferred,
                   "within_budget": p.transferred <= budget, "missing": p.missing,
                   "resources": [asdict(r) for r in p.resources]}
                  for p, b in zip(pages, baseline, strict=True)],
    }, indent=2))
    console.print(f"Written to {out.relative_to(ROOT)}")
    if missing:
        return 2
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
