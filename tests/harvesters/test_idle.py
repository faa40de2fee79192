"""The parse worker starts when a core is free now, not when the last minute's load average says so."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from harvesters import idle
from harvesters.idle import CpuTimes, SpareCore, idle_cores, parse_proc_stat


def test_proc_stat_line() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    line = b"cpu  4705 356 584 3699 23 23 0 7 11 0\n"
    assert parse_proc_stat(line) == CpuTimes(idle=3699 + 23, total=4705 + 356 + 584 + 3699 + 23 + 23 + 0 + 7)
    assert parse_proc_stat(b"cpu0 1 2 3 4 5") is None  # one core's line, not the machine's
    assert parse_proc_stat(b"intr 1 2 3") is None
    assert parse_proc_stat(b"cpu  a b c d e") is None


def test_idle_cores_between_readings() -> None:
    before = CpuTimes(idle=1000, total=5000)
    assert idle_cores(before, CpuTimes(idle=1050, total=5100), cpus=2) == 1.0  # one core idle
    assert idle_cores(before, CpuTimes(idle=1000, total=5100), cpus=2) == 0.0  # all busy
    assert idle_cores(before, before, cpus=2) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_this_machine_counters_move() -> None:
    first = idle.read_cpu_times()
    time.sleep(0.05)
    second = idle.read_cpu_times()
    assert first is not None and second is not None and second.total >= first.total > 0


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[CpuTimes]]:
    """Readings handed to ``SpareCore`` in turn, as the kernel would give them."""
    readings: list[CpuTimes] = []
    monkeypatch.setattr(idle, "read_cpu_times", lambda: readings.pop(0))
    monkeypatch.setattr(idle.os, "cpu_count", lambda: 2)
    yield readings


def test_spare_core_waits_for_a_long_enough_window(counters: list[CpuTimes]) -> None:
    counters += [CpuTimes(0, 0), CpuTimes(100, 200)]
    spare = SpareCore()
    assert spare.free() is None  # too soon to tell: nothing read yet
    time.sleep(idle.MIN_WINDOW)
    assert spare.free() is True  # one of two cores idle


def test_busy_machine_then_idle_again(counters: list[CpuTimes]) -> None:
    # another program holds a core and this harvest most of the other: no worker; then it ends
    counters += [CpuTimes(0, 0), CpuTimes(20, 200), CpuTimes(140, 400)]
    spare = SpareCore()
    time.sleep(idle.MIN_WINDOW)
    assert spare.free() is False
    time.sleep(idle.MIN_WINDOW)
    assert spare.free() is True  # judged on the latest window only, not on what came before
