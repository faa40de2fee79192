"""The rate limit's shared bucket table (``app.rate_limit``): one budget for every process that opens
the folder, bounded in size, buckets forgotten once refilled.

Two ``RateLimiter`` objects on one folder stand for two server workers here (each opens and locks the
file as a worker does); ``tests/app/test_workers_rate_limit.py`` checks the same over HTTP against
``lienhop serve --workers 2``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.errors import TooManyRequests
from app.rate_limit import FILE_NAME, RateLimiter


def _allowed(limiter: RateLimiter, client: str) -> bool:
    try:
        limiter.hit(client)
    except TooManyRequests:
        return False
    return True


def test_workers_on_one_folder_share_each_clients_budget(tmp_path: Path) -> None:
    first, second = RateLimiter("5/hour", tmp_path), RateLimiter("5/hour", tmp_path)
    answers = [_allowed(first if n % 2 else second, "address:198.51.100.7") for n in range(8)]
    assert answers == [True] * 5 + [False] * 3
    with pytest.raises(TooManyRequests) as refused:
        first.hit("address:198.51.100.7")
    assert 0 < refused.value.retry_after <= 3600
    # another client has a budget of its own, in either worker
    assert _allowed(second, "address:198.51.100.8") and _allowed(first, "member:LIBA")
    # a limiter without a folder (one process) counts on its own
    alone = RateLimiter("5/hour")
    assert [_allowed(alone, "address:198.51.100.7") for _ in range(6)] == [True] * 5 + [False]


def test_a_bucket_refills_and_the_table_never_grows(tmp_path: Path) -> None:
    limiter = RateLimiter("2/second", tmp_path, slots=64)
    assert [_allowed(limiter, "address:192.0.2.1") for _ in range(3)] == [True, True, False]
    time.sleep(1.1)  # a full bucket again
    assert _allowed(limiter, "address:192.0.2.1")
    size = (tmp_path / FILE_NAME).stat().st_size
    for n in range(5000):  # far more clients than slots: old buckets are taken over, none added
        limiter.hit(f"address:10.0.{n // 256}.{n % 256}")
    assert (tmp_path / FILE_NAME).stat().st_size == size
    limiter.close()


def test_a_limited_client_stays_limited_while_the_table_has_room(tmp_path: Path) -> None:
    limiter = RateLimiter("3/hour", tmp_path, slots=4096)
    for _ in range(3):
        limiter.hit("address:203.0.113.9")
    for n in range(500):  # other clients come and go
        limiter.hit(f"address:192.0.2.{n % 250}")
    assert not _allowed(limiter, "address:203.0.113.9")
    # a table of another layout (another slot count) is started afresh, not misread
    other = RateLimiter("3/hour", tmp_path, slots=128)
    assert _allowed(other, "address:203.0.113.9")
