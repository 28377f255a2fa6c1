"""What a web process remembers about tenants between requests, bounded, and told of changes.

A process may serve thousands of tenants, most of them rarely. So nothing here loads or
holds "every tenant": each host is looked up on its first request (one indexed query) and
kept, up to `size` hosts per process, and a change to a tenant or a domain is announced
through a *change notice*: a token in the shared "routing" cache (Redis) that every save or
delete of a Tenant or Domain replaces (now, and again when its transaction commits). Each
cached host remembers the token it was read under; a request that finds another token reads
its host again, so a suspension, an archive or a renamed domain made by any process (web,
`dgbox tenant` CLI, Celery) is seen by the process that made it on its next request and by
every other process within `notice_interval` seconds (DGBOX_TENANT_NOTICE_SECONDS, 1 s): a
process reads the notice at most once per interval, not on every request (a Redis round trip
saved per request on a busy process; an idle one reads it on its next request, as before).

What no signal reports (a queryset `.update()`, raw SQL) and what a process cannot be told
(no shared cache: REDIS_URL unset; Redis down) falls back on time: a host is trusted for
`shared_ttl` seconds when notices are shared and readable, `local_ttl` otherwise.
"""

import random
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.db.transaction import Atomic

from .db import connection
from .models import Domain, Tenant

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: The cache alias that carries change notices; keys without a schema prefix.
NOTICE_CACHE = "routing"
NOTICE_KEY = "tenants-changed"


class BoundedCache(Generic[K, V]):
    """A dict of at most `size` entries that evicts a *random* entry when full.

    Why random and not least-recently-used: requests that cycle over more tenants than the
    cache holds (a crawler, a monitoring probe, a fleet that outgrew the bound) make an LRU
    miss on every request, since the entry needed next is always the one just evicted. With
    random eviction the hit rate falls gently instead of to zero (a simulation of that
    rotation: 76% hits for 256 entries over 300 keys, 83% for 900 over 1,000, 30% at half).
    Thread-safe: single dict operations are atomic, eviction is under a lock.
    """

    def __init__(self, size: int, rng: random.Random | None = None):
        self.size = size
        self._data: dict[K, V] = {}
        # The keys again, in a list, with each key's place in it: a random one is picked and
        # removed in constant time (swapped with the last), where picking from the dict
        # meant copying its keys on every eviction (20,000 of them in the tenant's cache).
        self._keys: list[K] = []
        self._places: dict[K, int] = {}
        self._lock = threading.Lock()
        self._rng = rng or random.Random()  # noqa: S311 - eviction, not security

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        if self.size <= 0:
            return
        with self._lock:
            if key not in self._data:
                while len(self._data) >= self.size:
                    self._evict(self._rng.randrange(len(self._keys)))
                self._places[key] = len(self._keys)
                self._keys.append(key)
            self._data[key] = value

    def _evict(self, place: int) -> None:
        victim, last = self._keys[place], self._keys.pop()
        if place < len(self._keys):  # the victim was not the last: the last takes its place
            self._keys[place] = last
            self._places[last] = place
        del self._places[victim], self._data[victim]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._keys.clear()
            self._places.clear()

    def __len__(self) -> int:
        return len(self._data)


def transaction_scope() -> Atomic | None:
    """The outermost open transaction on the default connection, or None (autocommit)."""
    blocks = connection.atomic_blocks
    return blocks[0] if blocks else None


def read_notice() -> str | None:
    """The current change notice, or None when it cannot be read (Redis down: the cache
    logs it and answers None). The first reader after Redis started empty gives one."""
    cache = caches[NOTICE_CACHE]
    token: str | None = cache.get(NOTICE_KEY)
    if token is None:
        fresh = uuid.uuid4().hex
        if cache.add(NOTICE_KEY, fresh, timeout=None):
            return fresh
    return token


def give_notice() -> None:
    """Announce that some tenant or domain changed: every process reads its hosts again
    (this one on its next request, others within their notice interval)."""
    token = uuid.uuid4().hex
    caches[NOTICE_CACHE].set(NOTICE_KEY, token, timeout=None)
    host_cache.heard(token)


def notices_are_shared() -> bool:
    """Whether other processes see this process's notices (not a per-process cache)."""
    return not isinstance(caches[NOTICE_CACHE], LocMemCache)


Row = tuple[Any, ...]


def renewal(name: str, now: float, period: float) -> float:
    """The first moment after `now` at which what is kept under `name` is read again: one in
    every `period` seconds, at a phase of `name`'s own (from its CRC-32), so that names kept
    at the same moment are not all read again at the same moment. Never more than `period`
    after `now`. Used for host rows here and for tenants' entries (tenant_cache.py)."""
    phase = zlib.crc32(name.encode()) % 1000 / 1000 * period
    return now + period - (now - phase) % period


class HostCache:
    """host name -> its tenant's row (None: no such host), per process, bounded.

    The notice itself is read at most once per `notice_interval` seconds (0: on every
    request); a notice this process gives is known at once.

    An entry is used while (1) the change notice is the one it was read under, (2) it is
    younger than the time-to-live, and (3) it was read in the transaction still open, or
    outside any (rows read inside a transaction might never be committed: every test is
    rolled back). Unknown hosts are kept in a smaller cache of their own, so that a flood of
    made-up names costs one indexed query each and cannot push real tenants out.
    """

    def __init__(self, size: int, shared_ttl: float, local_ttl: float,
                 notice_interval: float = 0.0, clock: Callable[[], float] = time.monotonic):
        self.shared_ttl = shared_ttl
        self.local_ttl = local_ttl
        self.notice_interval = notice_interval
        # (notice, when it was read): one tuple, replaced whole, so threads never see a
        # notice with another notice's time.
        self._notice: tuple[str | None, float] | None = None
        self.clock = clock
        self.lookups = 0
        self.known: BoundedCache[str, tuple[Row, str | None, float, Atomic | None]] = (
            BoundedCache(size))
        self.unknown: BoundedCache[str, tuple[None, str | None, float, Atomic | None]] = (
            BoundedCache(max(size // 10, 100)))
        self.shared: bool | None = None  # found on first use (settings are read late)

    def ttl(self, notice: str | None) -> float:
        """Seconds an entry is trusted; `local_ttl <= 0` turns the cache off altogether."""
        if self.local_ttl <= 0:
            return 0
        if self.shared is None:
            self.shared = notices_are_shared()
        return self.shared_ttl if self.shared and notice is not None else self.local_ttl

    def notice(self, now: float) -> str | None:
        """The change notice, read from the shared cache at most once per interval."""
        last = self._notice
        if last is not None and now - last[1] < self.notice_interval:
            return last[0]
        notice = read_notice()
        self._notice = (notice, now)
        return notice

    def heard(self, notice: str) -> None:
        """This process gave `notice`: use it from the next request on, without a read."""
        self._notice = (notice, self.clock())

    def get(self, hostname: str, lookup: Callable[[str], Row | None]) -> Row | None:
        """The row of the tenant serving `hostname` (None: unknown host); `lookup(hostname)`
        reads it from the database when the cached entry cannot be used."""
        now = self.clock()
        notice = self.notice(now)
        ttl = self.ttl(notice)
        if ttl <= 0:
            self.lookups += 1
            return lookup(hostname)
        scope = transaction_scope()
        entry = self.known.get(hostname) or self.unknown.get(hostname)
        if entry is not None:
            row, seen_notice, ends, read_scope = entry
            if seen_notice == notice and now < ends and read_scope is scope:
                return row
        self.lookups += 1
        row = lookup(hostname)
        # Trusted `ttl` with the short ttl; with the shared one, until the host's next
        # renewal (`renewal`), so that the hosts of a fleet read together (a warm-up, a
        # restart) are not all read again together: at 1,000 hosts that was one whole
        # rotation of lookups, five minutes after a warm-up.
        ends = renewal(hostname, now, ttl) if ttl == self.shared_ttl else now + ttl
        if row is None:
            self.unknown.put(hostname, (None, notice, ends, scope))
        else:
            self.known.put(hostname, (row, notice, ends, scope))
        return row

    def clear(self) -> None:
        self.known.clear()
        self.unknown.clear()
        self._notice = None


def tenants_changed(**_kwargs: Any) -> None:
    """Signal receiver: give notice now (this process, and others once the change is visible
    to them) and again when the current transaction commits (a process that read the rows
    in between read them as they were before)."""
    give_notice()
    if connection.in_atomic_block:
        transaction.on_commit(give_notice)


host_cache = HostCache(
    size=int(getattr(settings, "DGBOX_TENANT_CACHE_SIZE", 5000)),
    shared_ttl=float(getattr(settings, "DGBOX_TENANT_CACHE_SHARED_SECONDS", 300)),
    local_ttl=float(getattr(settings, "DGBOX_TENANT_CACHE_SECONDS", 5)),
    notice_interval=float(getattr(settings, "DGBOX_TENANT_NOTICE_SECONDS", 1)))

for _model in (Tenant, Domain):
    post_save.connect(tenants_changed, sender=_model,
                      dispatch_uid=f"tenants-changed-save-{_model}")
    post_delete.connect(tenants_changed, sender=_model,
                        dispatch_uid=f"tenants-changed-delete-{_model}")
