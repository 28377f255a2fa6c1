"""Browser tests: Debian's Chromium driven by Playwright against a live server on the test
database, one tenant of their own (committed), one browser for the whole session.

Every page of every browser test is watched for Content-Security-Policy violations
(`securitypolicyviolation` events and the console's "Refused to ..." messages): a test whose
pages broke the policy fails (`_no_csp_violations`), so the citizen, staff and operator
journeys all check the policy as they go."""

import os
import shutil

import pytest
from django.db import connection

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 360, "height": 740}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def pytest_collection_modifyitems(config, items):
    if shutil.which("chromium"):
        return
    skip = pytest.mark.skip(reason="Chromium is not installed (make test installs it as root: "
                                   "apt-get install chromium)")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _patient_expect():
    """Assertions wait as long as actions do (the pages' default timeout): readiness on a
    loaded machine, not a speed check. Playwright's own default is 5 s."""
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=None)  # back to Playwright's default


@pytest.fixture(scope="session")
def browser_tenant(django_db_setup, django_db_blocker, session_tenants):
    from django_tenants.utils import tenant_context

    from demo.site import populate
    from tests.factories import launch

    with django_db_blocker.unblock():
        tenant = launch("Лесной", slug="lesnoy", admin_email="admin@lesnoy.example").tenant
        with tenant_context(tenant):
            populate("ru")
        connection.set_schema_to_public()
    return tenant


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the
    # tests make meanwhile are still plain synchronous code (Django's documented workaround),
    # allowed only while the browser is open.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="session")
def server(browser_tenant, django_db_blocker):
    """The whole WSGI application, with static files, on a loopback port in a thread."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    httpd = make_server("127.0.0.1", 0, WSGIHandler(), server_class=ThreadedWSGIServer,
                        handler_class=QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    httpd.server_close()
    # The server's request threads kept their database connections open; end them so the
    # test database can be dropped at the end of the session. This thread's own connection
    # may have been ended by another test's clean-up meanwhile: a fresh one does the job.
    with django_db_blocker.unblock():
        connection.close()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                       "AND application_name NOT LIKE 'celery%%'")


# The page reports each violation to the test through a binding; the console catches what a
# page reports before the listener exists (e.g. a blocked script in <head>).
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__dgboxCspViolation && window.__dgboxCspViolation(JSON.stringify({
    page: location.href, directive: event.effectiveDirective, blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber, sample: event.sample}));
}, true);
"""


@pytest.fixture(autouse=True)
def _no_csp_violations(request, monkeypatch):
    """Every browser context a test opens reports CSP violations; the test fails on any."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    violations: list[str] = []
    opened = browser.new_context

    def new_context(*args, **kwargs):
        context = opened(*args, **kwargs)
        context.expose_binding("__dgboxCspViolation",
                               lambda _source, report: violations.append(report))
        context.add_init_script(_REPORT_VIOLATIONS)
        context.on("console", lambda message: violations.append(
            f"console: {message.text}")
            if "Content Security Policy" in message.text else None)
        return context

    monkeypatch.setattr(browser, "new_context", new_context)
    yield violations
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def site(server):
    """Base URL of the browser tenant (*.localhost resolves to loopback in Chromium)."""
    return f"http://lesnoy.localhost:{server}"


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(60_000)  # readiness bound on a loaded machine, not a speed check
    yield page
    context.close()


# --- What every page of a journey is checked for ---------------------------------------------
@pytest.fixture(scope="session")
def _axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.fixture
def assert_accessible(_axe):
    """assert_accessible(page): axe-core finds no WCAG 2.2 A/AA violation on the page."""

    def check(page):
        results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
        assert results.violations_count == 0, results.generate_report()

    return check


@pytest.fixture
def assert_fits_the_phone():
    """assert_fits_the_phone(page): nothing is wider than the phone's 360 px screen."""

    def check(page):
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"page is {width}px wide on a 360px screen (horizontal scrolling)"

    return check


@pytest.fixture
def check_step(assert_accessible, assert_fits_the_phone):
    """check_step(page): a step of a citizen's journey fits the phone and is accessible."""

    def check(page):
        assert_fits_the_phone(page)
        assert_accessible(page)

    return check


# Wagtail's admin moves for a moment after an action: blocks and their "+" buttons slide in
# (jQuery), the footer's unsaved-changes bar slides up (a 1 s transition), messages fade in.
# A check taken half-way sees a footer over a "+" it will not cover once still, or a button
# 15 px tall on its way to 24.
_AT_REST = """() => document.getAnimations().every(
    (motion) => motion.playState !== "running"
        || motion.effect?.getComputedTiming().endTime === Infinity)
  && !(window.jQuery && window.jQuery.timers.length)"""
# ... and rather than wait for them (a slide can take seconds on a loaded machine, and every
# admin check paid for it), every slide and fade under way is taken to its end state first.
_TO_REST = """() => {
  for (const motion of document.getAnimations()) {
    if (motion.playState === "running"
        && motion.effect?.getComputedTiming().endTime !== Infinity) motion.finish();
  }
  if (window.jQuery) window.jQuery(":animated").finish();
}"""


@pytest.fixture
def assert_admin_accessible(_axe):
    """assert_accessible for an admin page, taken at rest from the top of the page.

    The page is scrolled to its top and every slide and fade has ended first: what the
    sticky header and footer cover then does not depend on where the last action scrolled
    to or on how far an animation had got on a loaded machine."""

    from playwright.sync_api import expect

    def check(page):
        page.evaluate("window.scrollTo(0, 0)")
        page.evaluate(_TO_REST)
        page.wait_for_function(_AT_REST)
        # Wagtail's messages fade in (0.5 s, whatever prefers-reduced-motion says) once its
        # script adds them; measured half-way, their white text fails the contrast check.
        messages = page.locator(".messages > ul")
        if messages.count():
            expect(messages).to_have_css("opacity", "1")
        results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
        assert results.violations_count == 0, results.generate_report()

    return check
