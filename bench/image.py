"""Figures of the container image: its size, a first and a cached build, and the time from
`podman run` to the first 200 on /healthz.

    .venv/bin/python bench/image.py [--first-build] [--rounds 5]

The image is built by scripts/build-image.sh (as `make image` builds it) under the tag
localhost/dgbox:bench. `--first-build` rebuilds every layer first (`--no-cache`; the Debian base
from debootstrap is kept: its own time is printed by the script when it is missing), which takes
minutes of both cores. Each start runs the image as the tests and the chart do: read-only root,
tmpfs on /tmp and the state directory, host network, gunicorn with one worker on a free
loopback port. /healthz needs no database, so none is given a real one.

There is no baseline: nothing else builds this image. What a user waits for is measured whole
(the build script's process; `podman run` until an answer), wall time beside the CPU time of
the processes started (podman, and what it waits for), with the load average, since the
machine may be shared. Figures are printed and written to bench/results/image.json.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port  # noqa: E402 - the repository on the path first

IMAGE = "localhost/dgbox:bench"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(no_cache: bool) -> dict:
    env = {**os.environ, "IMAGE": IMAGE, "IMAGE_NO_CACHE": "1" if no_cache else "0"}
    cpu, wall = children_cpu(), time.monotonic()
    subprocess.run([str(ROOT / "scripts" / "build-image.sh")], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return {"wall_s": round(time.monotonic() - wall, 1), "cpu_s": round(children_cpu() - cpu, 1),
            "load_after": os.getloadavg()}


def healthz(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def start_to_first_200() -> float:
    port, name = free_port(), f"dgbox-bench-image-{os.getpid()}"
    # The paths are inside the container: its tmpfs volumes, as the chart mounts them.
    tmpfs, heartbeat = "/tmp", "/dev/shm"  # noqa: S108
    argv = ["podman", "run", "--runtime", "runc", "--detach", "--name", name, "--network",
            "host", "--read-only", "--tmpfs", tmpfs, "--tmpfs", "/var/lib/dgbox:mode=0750,U",
            "--env", "DGBOX_SECRET_KEY=" + "bench-" * 10,
            "--env", "DATABASE_URL=postgres://nobody@127.0.0.1:1/none",
            IMAGE, "gunicorn", "dgbox.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", "1", "--worker-tmp-dir", heartbeat]
    started = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    try:
        while not healthz(port):
            if time.monotonic() - started > 120:
                raise RuntimeError("no 200 on /healthz within 120 s")
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        subprocess.run(["podman", "rm", "--force", "--time", "2", name], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first-build", action="store_true",
                        help="rebuild every layer first (minutes of CPU)")
    parser.add_argument("--rounds", type=int, default=5, help="container starts timed")
    args = parser.parse_args()
    figures: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    if args.first_build:
        figures["first_build"] = build(no_cache=True)
    figures["cached_build"] = build(no_cache=False)
    size = subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", IMAGE],
                          check=True, capture_output=True, text=True).stdout.strip()
    figures["image_mb"] = round(int(size) / 1e6)
    starts = [start_to_first_200() for _ in range(args.rounds)]
    figures["start_to_first_200_s"] = {"median": round(statistics.median(starts), 2),
                                       "min": round(min(starts), 2), "max": round(max(starts), 2)}
    figures["load_after"] = os.getloadavg()
    print(json.dumps(figures, indent=2))
    out = ROOT / "bench" / "results" / "image.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
