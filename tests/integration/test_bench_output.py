"""Benchmarks print their figures and nothing else (issue 20): four of them run as a
user runs them, `make bench-…` at a small size, on this session's PostgreSQL server.

Their output is read as a person reads it: a few lines of figures, the last one JSON;
nothing on stderr; no Powertools log line, EMF, warning, traceback or access log on
either. Picked for what can make noise: the timers function invoked in process (its
logs and metrics), a reply's whole transaction (a service's warnings), the retention
purge (its figures printed as JSON), and a launch through the local gateway, moto's
server and LaunchQueue's poller (their chatter).
tests/unit/test_bench_targets.py holds every target and script to the same rules
without running them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tether.config import PROJECT_ROOT

RUNS = {  # target: ARGS (a small size), a figure its JSON line holds
    "bench-timers": ("--timers 300 --batch 100 --sqs-ms 1", "timers_per_s"),
    # more replies asking for a call than campaigns (a number each): the pool must last
    "bench-inbound": (
        "--leads 300 --campaigns 5 --samples 60 --seed-fallback-samples 5"
        " --reply-samples 60 --runs 1",
        "tether_normal_p50_ms",
    ),
    "bench-retention": ("--rows 200 --batch 100", "rows_per_second"),
    "bench-launch": ("--leads 200 --chunk-size 100 --timeout 120", "leads_per_s"),
}
# a bench's own lines are a few: figures, a table, a progress line
MOST_LINES = 12
NOISE = [
    re.compile(r"^\s*[{\[]"),  # JSON before the last line: a log line, EMF
    re.compile(r'"_aws"|"level"\s*:'),  # EMF, a Powertools log line
    re.compile(r"\b\w*(Warning|Error)\b: "),  # a Python warning, an exception
    re.compile(r"^Traceback "),
    re.compile(r'"(GET|POST|PUT|DELETE|HEAD) \S+ HTTP/1\.[01]" \d{3}'),  # an access log
    re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR)\s"),  # terminal logs
]
# The session's make sets what the sub-make would take for its own.
MAKE_OWN = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKE_TERMOUT", "MAKE_TERMERR"}


def noise(lines: list[str]) -> list[str]:
    return [line for line in lines if any(pattern.search(line) for pattern in NOISE)]


@pytest.mark.parametrize("target", sorted(RUNS))
def test_bench_prints_its_figures_only(target: str) -> None:
    make = shutil.which("make")
    assert make, "the benchmarks run from the Makefile"
    args, figure = RUNS[target]
    environment = {
        key: value
        for key, value in os.environ.items()
        # the Makefile's settings, not this session's
        if key not in MAKE_OWN and not key.startswith("POWERTOOLS_")
    }
    # -o: the virtual environment is not rebuilt; BIN: this interpreter's (the project's)
    command = [make, "-s", "--no-print-directory", "-o", ".venv/.paths", target]
    variables = [f"BIN={Path(sys.executable).parent}", f"ARGS={args}"]
    run = subprocess.run(
        [*command, *variables],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert run.stderr == ""
    assert noise(lines[:-1]) == []
    assert 2 <= len(lines) <= MOST_LINES, run.stdout
    figures = json.loads(lines[-1])
    assert isinstance(figures, dict)
    assert figures[figure] > 0


def test_noise_is_told_from_figures() -> None:
    """The patterns above, on lines the benches and the things they run print."""
    figures = [
        "stored 300 due timers in 0.2s",
        "300 timers in 0.2s over 1 invocation(s): 1916.0 timers/s; claim p50 2.66 ms",
        "match                      p50 ms     p99 ms",
        "  webhook_payloads              200",
        "load average [1.6, 3.06, 3.28] → [1.6, 3.06, 3.28]",
    ]
    noisy = [
        '{"level":"INFO","location":"migrate:82","message":"applied migration"}',
        '{"_aws":{"Timestamp":1764054878000,"CloudWatchMetrics":[]},"MessagesSent":[1.0]}',
        '127.0.0.1 - - [25/Nov/2026 07:15:17] "POST / HTTP/1.1" 200 -',
        "/x/y.py:3: DeprecationWarning: datetime.utcnow() is deprecated",
        "Traceback (most recent call last):",
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for TimersSettings",
        "07:15:17.123 WARNING launch  tenant=8b646aaa lead=- msg=- corr=-  chunk failed",
    ]
    assert noise(figures) == []
    assert noise(noisy) == noisy
