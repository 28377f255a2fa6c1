"""Helpers shared by the deployment tests (Helm chart and Ansible roles)."""

import base64
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "dgbox"
ANSIBLE = REPO / "ansible"
HERE = Path(__file__).resolve().parent


def tool(name: str) -> str | None:
    """A console script next to this interpreter (the project venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def run(argv: list[str], env: dict[str, str], cwd: Path = ANSIBLE, timeout: int = 120):
    """Run a command; on failure the assertion shows its whole output."""
    proc = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc


FAKE_VERSION = "0.0.1"


def build_fake_wheel(directory: Path) -> Path:
    """Pack fake_dgbox_app.py into an installable `dgbox` wheel, by hand (no network)."""
    dist = f"dgbox-{FAKE_VERSION}.dist-info"
    files = {
        "dgbox/__init__.py": b'"""Fake dgbox for the deployment tests."""\n',
        "dgbox/fake.py": (HERE / "fake_dgbox_app.py").read_bytes(),
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: dgbox\nVersion: {FAKE_VERSION}\n"
            "Summary: Fake dgbox for the deployment tests\n"
        ).encode(),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: dgbox-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{dist}/entry_points.txt": (
            b"[console_scripts]\ndgbox = dgbox.fake:dgbox\n"
            b"gunicorn = dgbox.fake:gunicorn\ncelery = dgbox.fake:celery\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"dgbox-{FAKE_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel
