"""What /proc says of a process on this machine: the benchmarks read the CPU time of
the PostgreSQL server they run against (the embedded one runs here)."""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's name (which may hold spaces),
    or None when there is no such process here."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def parent_of(pid: int) -> int | None:
    fields = _stat(pid)
    return None if fields is None else int(fields[1])


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) `pid` has used so far, or None when it is not here."""
    fields = _stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / CLK_TCK


def family_cpu_seconds(parent: int) -> float:
    """The CPU time of `parent` and of every running process it started: a PostgreSQL
    server's postmaster and its backends, WAL writer, checkpointer and autovacuum."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if pid == parent or parent_of(pid) == parent:
                total += cpu_seconds(pid) or 0.0  # None: gone meanwhile
    return total
