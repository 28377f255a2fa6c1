"""Wagtail's rendition storage, resolved when a rendition file is first used, not at start-up.

Wagtail's `AbstractRendition.file` asks for its storage while Django loads the models
(`get_rendition_storage()`), and Django checks that the answer is a `Storage`: with the default
storage (a lazy object) that check builds the real one, and dgbox's S3 storage
(infra/storage.py) imports django-storages' S3 backend and boto3, about 0.1 s of CPU in every
process, also in `dgbox tenant list` or a no-op `dgbox rollout run` that never open a file
(docs/benchmarks.md, CLI start-up). `WAGTAILIMAGES_RENDITION_STORAGE` (dgbox/settings/base.py)
names `DeferredDefaultStorage`: a `Storage` whose every operation is the default storage's,
`storages["default"]`, the very instance images and documents use, built on first use.
"""

from __future__ import annotations

from datetime import datetime
from os import PathLike
from typing import IO, Any

from django.core.files.base import File
from django.core.files.storage import Storage, storages


class DeferredDefaultStorage(Storage):
    """Every operation delegated to `storages["default"]`, looked up on each call (Django keeps
    one instance per alias and process; tests that override STORAGES get the new one)."""

    alias = "default"

    @property
    def wrapped(self) -> Storage:
        return storages[self.alias]

    def __getattr__(self, name: str) -> Any:
        # What the backend adds (key_for, bucket, location, ...), not defined on Storage.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        return self.wrapped.open(name, mode)

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        return self.wrapped.save(name, content, max_length=max_length)

    def get_valid_name(self, name: str) -> str:
        return self.wrapped.get_valid_name(name)

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        return self.wrapped.get_alternative_name(file_root, file_ext)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self.wrapped.get_available_name(name, max_length=max_length)

    def generate_filename(self, filename: str | PathLike[str]) -> str:
        return self.wrapped.generate_filename(filename)

    def path(self, name: str) -> str:
        return self.wrapped.path(name)

    def delete(self, name: str) -> None:
        self.wrapped.delete(name)

    def exists(self, name: str) -> bool:
        return self.wrapped.exists(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self.wrapped.listdir(path)

    def size(self, name: str) -> int:
        return self.wrapped.size(name)

    def url(self, name: str | None) -> str:
        return self.wrapped.url(name)

    def get_accessed_time(self, name: str) -> datetime:
        return self.wrapped.get_accessed_time(name)

    def get_created_time(self, name: str) -> datetime:
        return self.wrapped.get_created_time(name)

    def get_modified_time(self, name: str) -> datetime:
        return self.wrapped.get_modified_time(name)
