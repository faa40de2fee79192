"""Public search rate limits (``LIENHOP_RATE_LIMIT``) that hold across every worker of one server.

One token bucket per client (an address, or a member for a client key) in a small table of fixed
size, shared by the workers of ``lienhop serve`` as a memory-mapped file in the metrics folder
(``<home>/metrics/rate-limit.buckets``, emptied when ``serve`` starts, like the prometheus files
beside it). Each check locks the file (``flock``) for the few microseconds of one bucket update.

Why this and not the alternatives:

* The check runs on every public search. Keeping the buckets in the record store would add a
  database write to each search (serialised behind SQLite's one writer, or a round trip to
  PostgreSQL), on the hot path. A page-cache mapping costs a lock system call and a few struct reads.
* A SQLite file of its own for the counters would still be a write transaction, with its journal, per
  search; the buckets need no durability (losing them at a restart only forgives clients).
* The table is bounded by construction: ``slots`` buckets of 24 bytes (3 MiB by default), never more.
  A bucket that has refilled is as good as none, so its slot is free again; when every slot a client
  may use holds a live bucket, the one idle longest is taken over (its client starts again with a full
  bucket: an overfull table errs toward letting a request through, never toward refusing one).
* The kernel releases ``flock`` when a process dies, so a killed worker never leaves the table locked.

The limit holds per machine. Several machines running ``serve`` against one PostgreSQL store count
their clients each on their own: give each a share of the limit, or limit at the proxy in front.
Outside ``serve`` (an app built in a test, or mounted elsewhere) the table is this process's memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from schemas.settings import parse_rate

from .errors import TooManyRequests

#: The table's file name inside the shared folder (not ``*.db``: prometheus reads those).
FILE_NAME = "rate-limit.buckets"
_MAGIC = b"LHRL0001"
_HEADER = struct.Struct("<8sQ")  # magic, slot count
_SLOT = struct.Struct("<Qdd")  # client hash (0: empty), tokens left, time of the last update
#: Consecutive slots a client's bucket may sit in (open addressing from its hash).
PROBES = 8


class RateLimiter:
    """Token buckets per client, shared by every process that opens the same folder.

    ``folder`` None: the buckets live in this process's memory only. The clock is ``time.monotonic``:
    on Linux one clock for every process of the machine, so workers agree on how much time passed.
    """

    def __init__(self, rate: str | None, folder: Path | None = None, slots: int = 1 << 17) -> None:
        self.count, self.period = parse_rate(rate) if rate else (0, 1)
        self.per_second = self.count / self.period
        self.folder = folder
        self.slots = max(slots, PROBES)
        self._size = _HEADER.size + self.slots * _SLOT.size
        self._map: mmap.mmap | None = None
        self._fd: int | None = None
        self._pid = 0

    def hit(self, client: str) -> None:
        """Take one request from ``client``'s bucket; :class:`TooManyRequests` when it is empty."""
        if not self.count:
            return
        key = int.from_bytes(hashlib.blake2b(client.encode(), digest_size=8).digest(), "little") or 1
        with self._locked() as table:
            now = time.monotonic()
            start = key % self.slots
            mine = free = oldest = -1
            oldest_time = float("inf")
            for step in range(PROBES):
                offset = _HEADER.size + ((start + step) % self.slots) * _SLOT.size
                held, tokens, last = _SLOT.unpack_from(table, offset)
                if held == key:
                    mine = offset
                    break
                if free < 0 and (held == 0 or self._refilled(tokens, last, now)):
                    free = offset
                if last < oldest_time:
                    oldest, oldest_time = offset, last
            if mine >= 0:
                _, tokens, last = _SLOT.unpack_from(table, mine)
                # A time ahead of now (the table outlived a reboot) counts as a full bucket.
                elapsed = now - last if now >= last else float(self.period)
                tokens = min(float(self.count), tokens + elapsed * self.per_second)
            else:
                mine = free if free >= 0 else oldest
                tokens = float(self.count)
            if tokens < 1.0:
                _SLOT.pack_into(table, mine, key, tokens, now)
                wait = (1.0 - tokens) / self.per_second
                raise TooManyRequests(f"more than {self.count} searches per {self.period} s", int(wait) + 1)
            _SLOT.pack_into(table, mine, key, tokens - 1.0, now)

    def _refilled(self, tokens: float, last: float, now: float) -> bool:
        """Whether a bucket is full again (forgotten: its slot may hold another client's)."""
        return now < last or tokens + (now - last) * self.per_second >= self.count

    @contextlib.contextmanager
    def _locked(self) -> Iterator[mmap.mmap]:
        table = self._open()
        if self._fd is None:
            yield table  # this process's memory: the event loop runs one hit at a time
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield table
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _open(self) -> mmap.mmap:
        # Opened on first use in each process: a descriptor inherited through fork would share its
        # flock with the parent, and the two would no longer exclude each other.
        if self._map is not None and self._pid == os.getpid():
            return self._map
        if self._map is not None:  # inherited from the parent process: this process's own copies
            self.close()
        self._pid = os.getpid()
        if self.folder is None:
            self._map = mmap.mmap(-1, self._size)
            _HEADER.pack_into(self._map, 0, _MAGIC, self.slots)
            return self._map
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_size < self._size:
                os.ftruncate(fd, self._size)  # new bytes read as zeros: empty slots
            table = mmap.mmap(fd, self._size)
            if _HEADER.unpack_from(table, 0) != (_MAGIC, self.slots):
                # A table of another layout (an older version, another slot count): start afresh.
                table[:] = bytes(self._size)
                _HEADER.pack_into(table, 0, _MAGIC, self.slots)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        self._fd, self._map = fd, table
        return table

    def close(self) -> None:
        """Unmap the table and close its file (the file stays for the other workers)."""
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
