"""infra/s3.py and the embedded S3 server, against a real SeaweedFS that checks signatures.

Access control is tested over plain HTTP (urllib) against the server itself: anonymous,
tampered, wrongly signed and expired requests must be refused by the server, not by us.
"""

import datetime
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from unittest import mock

import pytest
from botocore.stub import Stubber

from infra import s3

ROOT = Path(__file__).resolve().parent.parent


def _get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


@pytest.fixture
def prefix(s3_bucket):
    """A tenant-like prefix of this test's own; removed afterwards."""
    value = s3.tenant_prefix(f"t{uuid.uuid4().hex[:10]}")
    yield value
    s3.delete_prefix(value)


# --- bucket -----------------------------------------------------------------------------------

def test_ensure_bucket_is_idempotent_and_keeps_other_lifecycle_rules(s3_bucket):
    bucket = f"{s3_bucket}-fresh"
    client = s3.client()
    try:
        first = s3.ensure_bucket(bucket)
        assert first.created and first.lifecycle and first.encryption == "AES256"
        client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
            "Rules": [*client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
                      {"ID": "operator-rule", "Status": "Enabled",
                       "Filter": {"Prefix": "exports/"}, "Expiration": {"Days": 30}}]})
        second = s3.ensure_bucket(bucket)
        assert not second.created
        rules = {rule["ID"]: rule for rule in
                 client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        assert set(rules) == {"dgbox-abort-incomplete-multipart", "dgbox-expire-tmp",
                              "operator-rule"}
        assert rules["dgbox-abort-incomplete-multipart"]["AbortIncompleteMultipartUpload"] == {
            "DaysAfterInitiation": 1}
        assert rules["dgbox-expire-tmp"]["Filter"] == {"Prefix": "tmp/"}
        assert rules["dgbox-expire-tmp"]["Expiration"]["Days"] == 1
        encryption = client.get_bucket_encryption(Bucket=bucket)
        assert encryption["ServerSideEncryptionConfiguration"]["Rules"][0][
            "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    finally:
        client.delete_bucket(Bucket=bucket)


def test_sse_off_leaves_objects_unencrypted(s3_bucket, settings):
    bucket = f"{s3_bucket}-plain"
    settings.DGBOX_S3_SSE = "off"
    try:
        assert s3.ensure_bucket(bucket).encryption is None
        assert not s3.sse_enabled(bucket)
        s3.upload_bytes("tenants/x/plain.txt", b"plain", bucket=bucket)
        assert "ServerSideEncryption" not in s3.head("tenants/x/plain.txt", bucket=bucket)
    finally:
        s3.delete_keys(["tenants/x/plain.txt"], bucket=bucket)
        s3.client().delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_endpoint_without_encryption(mode, settings, caplog):
    """What MinIO without a KMS key answers: auto degrades with a note, on refuses."""
    settings.DGBOX_S3_SSE = mode
    client = s3.client()
    with Stubber(client) as stub:
        stub.add_client_error("put_bucket_encryption", service_error_code="NotImplemented",
                              service_message="Server side encryption is not configured",
                              http_status_code=501)
        if mode == "auto":
            assert s3._apply_encryption(client, "no-sse-bucket") is None
            assert "does not support server-side encryption" in caplog.text
        else:
            with pytest.raises(s3.S3Error, match="DGBOX_S3_SSE=on .* refused server-side"):
                s3._apply_encryption(client, "no-sse-bucket")
    s3._sse_known.clear()


def test_tenant_prefix():
    assert s3.tenant_prefix("north") == "tenants/north/"
    assert s3.tenant_prefix("ryabinovka_2") == "tenants/ryabinovka_2/"
    for bad in ("public", "", "North", "a/b", "../x", "x" * 64, "1abc", "a-b", None):
        with pytest.raises(ValueError, match="schema"):
            s3.tenant_prefix(bad)


# --- objects and prefixes ---------------------------------------------------------------------

def test_upload_download_with_checksum_and_encryption(prefix):
    data = os.urandom(1000)
    stored = s3.upload_bytes(prefix + "a.bin", data, content_type="application/pdf")
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    head = s3.head(prefix + "a.bin")
    assert head["Metadata"]["sha256"] == stored["sha256"]
    assert head["ContentType"] == "application/pdf"
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.download(prefix + "a.bin") == data
    # An object changed behind our back no longer matches its checksum.
    s3.client().put_object(Bucket=s3.bucket_name(), Key=prefix + "a.bin", Body=b"other",
                           Metadata={"sha256": stored["sha256"]})
    with pytest.raises(s3.S3Error, match="does not match its stored SHA-256"):
        s3.download(prefix + "a.bin")
    with pytest.raises(s3.S3NotFound, match="no such object"):
        s3.download(prefix + "missing.bin")


def test_upload_file_in_parts(prefix, tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom(9 * 1024 * 1024)  # above boto3's 8 MB multipart threshold
    path.write_bytes(data)
    stored = s3.upload_file(prefix + "big.bin", path)
    assert stored["size"] == len(data)
    assert s3.download(prefix + "big.bin") == data
    with path.open("rb") as handle:
        handle.read(10)  # read from the start whatever the position
        assert s3.upload_file(prefix + "again.bin", handle)["sha256"] == stored["sha256"]


def test_prefix_operations(prefix, monkeypatch):
    files = {"a.txt": b"a", "docs/b.pdf": b"bb", "docs/заявление 1.txt": b"ccc"}
    for name, data in files.items():
        s3.upload_bytes(prefix + name, data)
    neighbour = prefix[:-1] + "x/"  # tenants/tabc/ must not touch tenants/tabcx/
    s3.upload_bytes(neighbour + "keep.txt", b"keep")
    try:
        assert s3.prefix_usage(prefix) == (3, 6)
        listed = list(s3.iter_objects(prefix))
        assert [o.key for o in listed] == sorted(prefix + n for n in files)
        assert {o.size for o in listed} == {1, 2, 3}

        entries = s3.manifest(prefix)
        assert [e["name"] for e in entries] == sorted(files)
        for entry in entries:
            assert entry["sha256"] == hashlib.sha256(files[entry["name"]]).hexdigest()
            assert entry["size"] == len(files[entry["name"]])

        restored = s3.tenant_prefix(f"r{uuid.uuid4().hex[:10]}")
        assert s3.copy_prefix(prefix, restored) == 3
        copied = s3.manifest(restored)
        assert [(e["name"], e["sha256"], e["size"]) for e in copied] == [
            (e["name"], e["sha256"], e["size"]) for e in entries]
        assert s3.download(restored + "docs/заявление 1.txt") == b"ccc"
        assert s3.head(restored + "a.txt")["ServerSideEncryption"] == "AES256"

        monkeypatch.setattr(s3, "DELETE_BATCH", 2)  # 3 objects: two DeleteObjects calls
        assert s3.delete_prefix(restored) == 3
        assert s3.delete_prefix(prefix) == 3
        assert s3.prefix_usage(prefix) == (0, 0) and s3.prefix_usage(restored) == (0, 0)
        assert s3.prefix_usage(neighbour) == (1, 4)
    finally:
        s3.delete_prefix(neighbour)


@pytest.mark.parametrize("bad", ["", "tenants/north", "/tenants/north/", "tenants/../x/"])
def test_prefix_operations_refuse_non_folder_prefixes(bad):
    with pytest.raises(ValueError, match="not a folder prefix"):
        s3.delete_prefix(bad)
    with pytest.raises(ValueError, match="not a folder prefix"):
        s3.copy_prefix(bad, "tenants/x/")


def test_copy_prefix_refuses_overlap():
    with pytest.raises(ValueError, match="overlap"):
        s3.copy_prefix("tenants/a/", "tenants/a/b/")


# --- access control, over plain HTTP ----------------------------------------------------------

def test_objects_are_private_and_links_are_checked_by_the_server(prefix, settings):
    s3.upload_bytes(prefix + "letter.pdf", b"%PDF-decision", content_type="application/pdf")
    s3.upload_bytes(prefix + "other.pdf", b"%PDF-other")
    plain = f"{settings.DGBOX_S3_ENDPOINT_URL}/{s3.bucket_name()}/{prefix}letter.pdf"
    assert _get(plain)[0] == 403  # anonymous
    assert _get(f"{settings.DGBOX_S3_ENDPOINT_URL}/{s3.bucket_name()}?list-type=2")[0] == 403

    url = s3.signed_url(prefix + "letter.pdf", filename="Решение № 5.pdf")
    assert url.startswith("http://127.0.0.1") and "X-Amz-Signature=" in url
    assert f"X-Amz-Expires={settings.DGBOX_S3_SIGNED_URL_SECONDS}" in url
    status, body, headers = _get(url)
    assert (status, body) == (200, b"%PDF-decision")
    assert headers["Content-Disposition"] == (
        'attachment; filename="_______ _ 5.pdf"; filename*=UTF-8\'\''
        "%D0%A0%D0%B5%D1%88%D0%B5%D0%BD%D0%B8%D0%B5%20%E2%84%96%205.pdf")

    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert _get(url.replace(signature, flipped))[0] == 403  # tampered signature
    # The link is for one key: pointing it at another object breaks the signature.
    assert _get(url.replace("letter.pdf", "other.pdf"))[0] == 403
    # Signed with a wrong secret.
    settings.DGBOX_S3_SECRET_KEY = settings.DGBOX_S3_SECRET_KEY + "-wrong"
    assert _get(s3.signed_url(prefix + "letter.pdf"))[0] == 403


def test_expired_link_is_refused(prefix):
    s3.upload_bytes(prefix + "old.txt", b"old")
    an_hour_ago = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - \
        datetime.timedelta(hours=1)
    with mock.patch("botocore.auth.get_current_datetime", return_value=an_hour_ago):
        expired = s3.signed_url(prefix + "old.txt", seconds=60)  # expired 59 minutes ago
    status, body, _ = _get(expired)
    assert status == 403 and b"expired" in body.lower()
    assert _get(s3.signed_url(prefix + "old.txt", seconds=60))[0] == 200
    with pytest.raises(ValueError, match="lifetime"):
        s3.signed_url(prefix + "old.txt", seconds=8 * 24 * 3600)


# --- failures are clear and fast --------------------------------------------------------------

def test_wrong_credentials_give_an_actionable_error(s3_bucket, settings):
    settings.DGBOX_S3_SECRET_KEY = "not-the-secret"
    with pytest.raises(s3.S3Error, match="refused our credentials.*DGBOX_S3_SECRET_KEY"):
        s3.ensure_bucket()
    settings.DGBOX_S3_ACCESS_KEY = "nobody"
    with pytest.raises(s3.S3Error, match="InvalidAccessKeyId"):
        s3.upload_bytes("tenants/x/y.txt", b"y")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint_fails_fast(settings):
    settings.DGBOX_S3_ENDPOINT_URL = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(s3.S3Error, match="cannot reach the S3 endpoint.*DGBOX_S3_ENDPOINT_URL"):
        s3.download("tenants/x/y.txt")
    assert time.monotonic() - started < 10


def test_endpoint_that_never_accepts_times_out(settings):
    """A black hole (SYNs dropped) fails after the connect timeout instead of hanging."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(3):  # fill the accept queue: further connects get no answer
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.1)
        settings.DGBOX_S3_ENDPOINT_URL = f"http://127.0.0.1:{port}"
        settings.DGBOX_S3_CONNECT_TIMEOUT = 0.3
        started = time.monotonic()
        try:
            with pytest.raises(s3.S3Error, match="cannot reach the S3 endpoint"):
                s3.prefix_usage("tenants/x/")
        finally:
            for filler in fillers:
                filler.close()
        assert time.monotonic() - started < 8


# --- the embedded server on a fresh machine ---------------------------------------------------

PROBE = """
import os, urllib.request, urllib.error, boto3
from botocore.config import Config
url = os.environ["DGBOX_S3_ENDPOINT_URL"]
def client(secret):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=os.environ["DGBOX_S3_ACCESS_KEY"], aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
c = client(os.environ["DGBOX_S3_SECRET_KEY"])
if "probe" not in [b["Name"] for b in c.list_buckets()["Buckets"]]:
    c.create_bucket(Bucket="probe")
c.put_object(Bucket="probe", Key="k.txt", Body=b"fresh")
print("read", c.get_object(Bucket="probe", Key="k.txt")["Body"].read())
try:
    urllib.request.urlopen(url + "/probe/k.txt")
except urllib.error.HTTPError as err:
    print("anonymous", err.code)
try:
    client("wrong").get_object(Bucket="probe", Key="k.txt")
except Exception as err:
    print("forged", err.response["Error"]["Code"])
print("url", url)
"""


def _free_ports() -> dict[str, int]:
    """A base port whose SeaweedFS ports (infra.localservices.seaweed_ports) are all free."""
    from infra.localservices import seaweed_ports

    for _ in range(50):
        ports = seaweed_ports(_free_port())
        if max(ports.values()) > 65535 or min(ports.values()) < 1024:
            continue
        socks = []
        try:
            for number in ports.values():
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", number))
            return ports
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free ports for SeaweedFS")


def test_embedded_s3_starts_checks_signatures_and_stops(tmp_path):
    from infra.localservices import answers, ensure_postgres

    ports = _free_ports()
    port = ports["s3"]
    env = {**os.environ, "DGBOX_STATE_DIR": str(tmp_path), "DGBOX_EMBEDDED_S3_PORT": str(port),
           "DATABASE_URL": os.environ.get("DATABASE_URL") or ensure_postgres("postgres"),
           "REDIS_URL": ""}
    for name in ("DGBOX_S3_ENDPOINT_URL", "DGBOX_S3_ACCESS_KEY", "DGBOX_S3_SECRET_KEY"):
        env.pop(name, None)
    run = [sys.executable, "-m", "infra.localservices", "run", "--", sys.executable, "-c", PROBE]
    try:
        first = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=120)
        assert first.returncode == 0, first.stderr
        assert "read b'fresh'" in first.stdout
        assert "anonymous 403" in first.stdout
        assert "forged SignatureDoesNotMatch" in first.stdout
        assert f"url http://127.0.0.1:{port}" in first.stdout
        started = [line for line in first.stderr.splitlines() if "SeaweedFS" in line]
        assert len(started) == 1 and "starting SeaweedFS" in started[0]
        folder = tmp_path / "seaweedfs"
        assert (folder / "weed.pid").exists() and (folder / "credentials.json").exists()
        assert oct((folder / "credentials.json").stat().st_mode)[-3:] == "600"
        # Everything on loopback only, on the ports it was given.
        pid = int((folder / "weed.pid").read_text())
        listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
        ours = {line.split()[3] for line in listening.splitlines() if f"pid={pid}," in line}
        assert ours == {f"127.0.0.1:{number}" for number in ports.values()}
        # The filer behind the gateway does not serve files without a token either.
        status = _get(f"http://127.0.0.1:{ports['filer']}/buckets/probe/k.txt")[0]
        assert status == 401

        second = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 0, second.stderr
        assert "read b'fresh'" in second.stdout and "SeaweedFS" not in second.stderr

        # Another state directory has other keys: it must not take this server for its own.
        other = subprocess.run(run, cwd=ROOT, env={**env, "DGBOX_STATE_DIR": str(tmp_path / "b")},
                               capture_output=True, text=True, timeout=120)
        assert other.returncode != 0
        assert "refuses the credentials" in other.stderr
    finally:
        subprocess.run([sys.executable, "-m", "infra.localservices", "stop"], cwd=ROOT, env=env,
                       capture_output=True, timeout=120)
    assert not any(answers("127.0.0.1", number) for number in ports.values())
    assert not (tmp_path / "seaweedfs" / "weed.pid").exists()
