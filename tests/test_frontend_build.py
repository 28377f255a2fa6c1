"""The committed front-end build (cms/static/cms/) is rebranded, small and reproducible.

No database: these tests read the built files and, when npm is on PATH, rebuild a copy of
frontend/ from its lock file into a temporary directory and compare the bytes.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "cms" / "static" / "cms"
BUILT = ("dgbox.css", "dgbox.js")
CSS_BUDGET_BYTES = 80 * 1024
REBUILD_HINT = "rebuild with frontend/build.sh and commit cms/static/cms/"

DGBOX_CLASSES = (
    "dgbox-task-list",
    "dgbox-card",
    "dgbox-language-switcher",
    "dgbox-alert",
    "dgbox-alert--info",
    "dgbox-alert--warning",
    "dgbox-alert--emergency",
    "dgbox-feedback",
    "dgbox-office-hours",
    "dgbox-coat-of-arms",
    # Beyond the brief: classes the site templates use.
    "dgbox-header",
    "dgbox-prose",
    "dgbox-search",
    "dgbox-life-events",
)


@pytest.fixture(scope="module")
def css():
    return (STATIC / "dgbox.css").read_text(encoding="utf-8")


def declarations(css, selector):
    """All declarations of the top-level rules whose selector list is exactly `selector`."""
    pattern = r"(?:^|[}\s])" + re.escape(selector) + r"\{([^{}]*)\}"
    found = {}
    for block in re.findall(pattern, css):
        for declaration in block.split(";"):
            name, sep, value = declaration.partition(":")
            if sep:
                found[name.strip()] = value.strip()
    return found


def contrast(foreground, background):
    def luminance(hex_colour):
        hex_colour = hex_colour.lstrip("#")
        if len(hex_colour) == 3:
            hex_colour = "".join(c * 2 for c in hex_colour)
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_built_files_exist():
    for name in BUILT:
        path = STATIC / name
        assert path.is_file() and path.stat().st_size > 0, f"{path} is missing: {REBUILD_HINT}"


def test_css_uses_no_gov_uk_font(css):
    assert "gds transport" not in css.lower(), "the GDS Transport font is licensed to GOV.UK only"
    assert "@font-face" not in css, "dgbox uses system fonts: no @font-face"


def test_css_urls_point_to_files_beside_it(css):
    for _, target in re.findall(r"""\burl\(\s*(['"]?)(.*?)\1\s*\)""", css):
        if target.startswith("data:"):
            continue
        path = STATIC / target.split("?")[0].split("#")[0]
        assert not re.match(r"^(/|[a-z]+:)", target) and path.is_file(), (
            f"dgbox.css refers to url({target}), which is not a file in {STATIC}"
        )


def test_brand_comes_from_custom_properties(css):
    assert "var(--dgbox-brand" in css
    header = declarations(css, ".govuk-header")
    assert header["background"].startswith("var(--dgbox-brand,"), header
    assert "var(--dgbox-on-brand," in css
    assert "var(--dgbox-brand-dark," in css

    button = declarations(css, ".govuk-button")
    assert button["background-color"].startswith("var(--dgbox-brand,"), button
    assert button["color"].startswith("var(--dgbox-on-brand,"), button
    hover = declarations(css, ".govuk-button:hover")
    assert hover["background-color"].startswith("var(--dgbox-brand-dark,"), hover


def test_govuk_focus_style_is_intact(css):
    focused_button = declarations(css, ".govuk-button:focus:not(:active):not(:hover)")
    assert focused_button["background-color"] == "#fd0", focused_button
    focused_link = declarations(css, ".govuk-link:focus")
    assert focused_link["background-color"] == "#fd0", focused_link
    assert focused_link["color"] == "#0b0c0c", focused_link


def test_dgbox_classes_are_styled(css):
    missing = [name for name in DGBOX_CLASSES if not re.search(rf"\.{name}(?![\w-])", css)]
    assert not missing, f"dgbox.css has no rules for {missing}"
    # Top tasks: one column on phones, two from 40.0625em.
    assert re.search(
        r"@media\s*\(min-width:\s*40\.0625em\)\{\.dgbox-task-list\{grid-template-columns:repeat\(2",
        css,
    )
    assert declarations(css, ".dgbox-coat-of-arms")["max-height"] == "40px"


def test_emergency_alert_text_contrast(css):
    background = declarations(css, ".dgbox-alert--emergency")["background-color"]
    # The text colour rule covers the alert and the text elements inside it.
    text = re.search(r"(?:^|})\.dgbox-alert--emergency,[^{]*\bp,[^{]*\{color:(#[0-9a-f]+)\}", css)
    assert text, "no text colour rule for .dgbox-alert--emergency"
    ratio = contrast(text.group(1), background)
    assert ratio >= 4.5, f"emergency alert contrast {ratio:.2f}:1 is below WCAG AA 4.5:1"


def test_css_size_budget():
    size = (STATIC / "dgbox.css").stat().st_size
    assert size < CSS_BUDGET_BYTES, (
        f"dgbox.css is {size} bytes, over the {CSS_BUDGET_BYTES} byte budget: import fewer "
        "GOV.UK Frontend parts in frontend/src/dgbox.scss"
    )


def test_js_is_one_module_that_starts_the_components():
    js = (STATIC / "dgbox.js").read_text(encoding="utf-8")
    assert js.startswith("/*! dgbox | GOV.UK Frontend v"), "licence banner missing"
    assert "createAll(Component)" in js
    assert "sourceMappingURL" not in js, "no source map is shipped"
    assert not re.search(r"\bexport\s*\{", js), "GOV.UK Frontend's export list should be removed"


NETWORK_ERRORS = (
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH: cannot rebuild")
def test_rebuild_from_lock_file_is_byte_identical(tmp_path):
    work = tmp_path / "frontend"
    shutil.copytree(FRONTEND, work, ignore=shutil.ignore_patterns("node_modules"))
    out = tmp_path / "static"
    env = {**os.environ, "npm_config_update_notifier": "false", "DGBOX_STATIC_OUT": str(out)}

    install = subprocess.run(
        ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if install.returncode != 0 and any(code in install.stderr for code in NETWORK_ERRORS):
        pytest.skip(f"npm ci could not reach the registry: {install.stderr.strip()[-300:]}")
    assert install.returncode == 0, f"npm ci failed:\n{install.stderr[-2000:]}"

    build = subprocess.run(
        ["npm", "run", "build"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert build.returncode == 0, f"npm run build failed:\n{build.stdout}\n{build.stderr[-2000:]}"

    for name in BUILT:
        rebuilt = (out / name).read_bytes()
        assert rebuilt == (STATIC / name).read_bytes(), (
            f"cms/static/cms/{name} differs from a fresh build: {REBUILD_HINT}"
        )
