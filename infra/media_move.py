"""Moving a tenant's public media from local disk (MEDIA_ROOT/<schema>/) to its S3 prefix.

Used once per deployment by `dgbox media move-to-s3`, when public media moves from the local
fallback to S3 (DGBOX_PUBLIC_MEDIA=s3). A file `MEDIA_ROOT/<schema>/<name>` becomes the object
`tenants/<schema>/media/<name>`: the same name, so the database rows of images, renditions and
documents stay as they are.

Each file is hashed, uploaded with its SHA-256 in the metadata, then read back from S3 and
hashed again; only a copy whose size and SHA-256 match is counted as moved, and only then, when
asked, is the local file deleted. A file already on S3 with the same SHA-256 is skipped, so a
run that was interrupted is simply run again. An object of the same name with other bytes is
never overwritten: it is reported as a conflict and the local file is kept.
"""

import enum
import hashlib
import mimetypes
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import SuspiciousFileOperation

from infra import s3
from infra.storage import IMMUTABLE, TenantS3Storage

_CHUNK = 1024 * 1024


class Outcome(enum.StrEnum):
    MOVED = "moved"  # uploaded and verified now
    PRESENT = "present"  # already on S3 with the same bytes (an earlier run)
    CONFLICT = "conflict"  # S3 holds other bytes under that name: left alone
    REFUSED = "refused"  # a name S3 keys cannot hold (not UTF-8, "..", backslash)
    FAILED = "failed"  # the upload or its check failed


@dataclass
class MoveReport:
    """What one tenant's move did; `problems` lists (name, what to do) for each file kept."""

    schema_name: str
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    bytes_moved: int = 0
    deleted_local: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.counts[Outcome.CONFLICT] or self.counts[Outcome.REFUSED]
                    or self.counts[Outcome.FAILED])


def local_root(media_root: str | os.PathLike[str], schema_name: str) -> Path:
    return Path(media_root) / schema_name


def local_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(name relative to `root` with '/' separators, path) of every file, in name order."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for filename in files:
            path = Path(folder) / filename
            found.append((path.relative_to(root).as_posix(), path))
    yield from sorted(found)


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _stored_sha256(key: str) -> str | None:
    """The SHA-256 of what S3 holds under `key` (hashed from its bytes), None if nothing."""
    try:
        s3.head(key)
    except s3.S3NotFound:
        return None
    return s3.object_sha256(key)[0]


def check_name(name: str) -> str | None:
    """Why `name` cannot become a key of the tenant's media folder, or None when it can."""
    try:
        name.encode("utf-8")  # os.walk gives undecodable bytes as lone surrogates
    except UnicodeEncodeError:
        return "the file name is not UTF-8: rename it (it keeps its database row's name)"
    try:
        TenantS3Storage.check_name(name)
    except SuspiciousFileOperation as err:
        return str(err)
    return None


def move_file(schema_name: str, name: str, path: Path, *, delete_local: bool) -> Outcome:
    """Move one file whose name passed `check_name` (see the module docstring); raises
    s3.S3Error when S3 fails."""
    key = s3.media_prefix(schema_name) + name
    local_sha, size = _sha256(path)
    stored = _stored_sha256(key)
    if stored is not None and stored != local_sha:
        return Outcome.CONFLICT
    outcome = Outcome.PRESENT
    if stored is None:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        s3.upload_file(key, path, content_type=content_type, cache_control=IMMUTABLE)
        if s3.object_sha256(key) != (local_sha, size):
            return Outcome.FAILED
        outcome = Outcome.MOVED
    if delete_local:  # only now: the S3 copy has the local file's bytes
        path.unlink()
    return outcome


_ADVICE = {
    Outcome.CONFLICT: "S3 holds other bytes under this name; compare the two and delete the "
                      "wrong one, then run again",
    Outcome.FAILED: "the copy read back from S3 differs from the file; run again",
}


def move_tenant(schema_name: str, media_root: str | os.PathLike[str], *,
                delete_local: bool = False,
                on_file: Callable[[str, Outcome], None] | None = None) -> MoveReport:
    """Move every file of one tenant; `on_file(name, outcome)` is called after each."""
    report = MoveReport(schema_name)
    for name, path in local_files(local_root(media_root, schema_name)):
        reason = check_name(name)
        if reason:
            outcome = Outcome.REFUSED
            report.problems.append((name, reason))
        else:
            try:
                size = path.stat().st_size
                outcome = move_file(schema_name, name, path, delete_local=delete_local)
            except (s3.S3Error, OSError) as err:
                outcome = Outcome.FAILED
                report.problems.append((name, str(err)))
            else:
                if outcome in _ADVICE:
                    report.problems.append((name, _ADVICE[outcome]))
                if outcome in (Outcome.MOVED, Outcome.PRESENT) and delete_local:
                    report.deleted_local += 1
                if outcome is Outcome.MOVED:
                    report.bytes_moved += size
        report.counts[outcome] += 1
        if on_file:
            on_file(name, outcome)
    return report
