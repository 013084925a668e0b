"""What a server process costs, read from /proc: CPU (user and system apart) and resident memory.

A server may be several processes (uvicorn ``--workers``, a supervisor and its children), so every figure is
the sum over the process and its living descendants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """CPU seconds and resident KiB of a process tree at one moment."""

    user: float
    sys: float
    rss_kib: int
    pids: int


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields after "pid (comm)": state is [0], ppid [1]


def descendants(pid: int) -> list[int]:
    """``pid`` and every living process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sample(pid: int) -> Sample:
    user = sys = 0.0
    rss = n = 0
    for p in descendants(pid):
        try:
            fields = _stat(p)
            rss += _rss_kib(p)
        except (FileNotFoundError, ProcessLookupError):
            continue
        user += int(fields[11]) / TICKS  # utime: field 14 of the whole line
        sys += int(fields[12]) / TICKS  # stime: field 15
        n += 1
    return Sample(user, sys, rss, n)


def server_figures(samples: dict[str, Sample], deliveries: int, readers: int) -> dict[str, Any]:
    """Per-delivery CPU between "start" and "end", per-reader memory and connect CPU between "idle" and
    "connected" (the phases ``loadgen.run_scenario`` reports to its probe)."""
    idle, connected, start, end = (samples[k] for k in ("idle", "connected", "start", "end"))
    per = 1e6 / deliveries if deliveries else 0.0
    return {
        "cpu_us_per_delivery": {
            "user": round((end.user - start.user) * per, 2),
            "sys": round((end.sys - start.sys) * per, 2),
        },
        "cpu_s": {"user": round(end.user - start.user, 3), "sys": round(end.sys - start.sys, 3)},
        "rss_kib_per_reader": round((connected.rss_kib - idle.rss_kib) / readers, 2) if readers else 0.0,
        "rss_kib": {"idle": idle.rss_kib, "connected": connected.rss_kib, "end": end.rss_kib},
        "connect_cpu_us_per_reader": (
            round((connected.user + connected.sys - idle.user - idle.sys) * 1e6 / readers, 1) if readers else 0.0
        ),
        "connect_cpu_us": {
            "user": round((connected.user - idle.user) * 1e6 / readers, 1) if readers else 0.0,
            "sys": round((connected.sys - idle.sys) * 1e6 / readers, 1) if readers else 0.0,
        },
        "processes": end.pids,
    }
