"""Whether the machine has a core to spare right now, for the harvest's parse workers.

A parse worker only wins when it gets a core of its own; otherwise sending records back (pickling
and unpickling cost about a quarter of reading them) and the processes' contention cost more than it
saves: on a busy machine, harvests were slower with one (bench/harvest.py measures it).

The 1-minute load average answered that question first, but it remembers the last minute: a harvest
that had just finished (the previous format of a benchmark, the previous member of a scheduled run)
kept the next one from its parse worker though the machine was idle again. Where the kernel's CPU
counters can be read (``/proc/stat``), the idle time since the last look answers instead; elsewhere,
the load average still does.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

#: Shorter windows are too coarse: the counters tick every 10 ms per core.
MIN_WINDOW = 0.1
#: Idle cores (besides whatever this process itself used) that count as "a core to spare".
SPARE = 0.75


@dataclass(frozen=True)
class CpuTimes:
    """All cores' idle and total time from the kernel's counters (in clock ticks)."""

    idle: int
    total: int


def parse_proc_stat(first_line: bytes) -> CpuTimes | None:
    """The aggregate ``cpu`` line of ``/proc/stat``; ``None`` for anything else."""
    fields = first_line.split()
    if len(fields) < 5 or fields[0] != b"cpu":
        return None
    try:
        values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    except ValueError:
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # waiting on I/O leaves the core free
    return CpuTimes(idle=idle, total=sum(values))


def idle_cores(before: CpuTimes, after: CpuTimes, cpus: int) -> float | None:
    """How many cores were idle on average between two readings; ``None`` if no time passed."""
    total = after.total - before.total
    if total <= 0:
        return None
    return cpus * (after.idle - before.idle) / total


def read_cpu_times() -> CpuTimes | None:
    """This machine's counters, or ``None`` where there is no ``/proc/stat``."""
    try:
        with open("/proc/stat", "rb") as stat:
            return parse_proc_stat(stat.readline())
    except OSError:
        return None


class SpareCore:
    """Answers "is a core free now?" from the idle time since the previous answer (see the module)."""

    def __init__(self) -> None:
        self.cpus = os.cpu_count() or 1
        self._last = read_cpu_times()
        self._at = time.monotonic()

    def free(self) -> bool | None:
        """True or False; ``None`` while too little time has passed since the last reading to tell."""
        if self._last is None:
            return _load_average_leaves_a_core(self.cpus)
        now = time.monotonic()
        if now - self._at < MIN_WINDOW:
            return None
        current = read_cpu_times()
        if current is None:
            return _load_average_leaves_a_core(self.cpus)
        idle = idle_cores(self._last, current, self.cpus)
        self._last, self._at = current, now
        return None if idle is None else idle >= SPARE


def _load_average_leaves_a_core(cpus: int) -> bool:
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform: assume a core is free
        return True
    return load <= cpus - 1
