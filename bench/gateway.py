"""A request's time through the local gateway: the local stack as a user runs it
(`python -m tether_dev dev` in a process of its own, as bench/events.py starts it), a
tenant, then N `GET /v1/settings` with its key (cached by the API function after the
first) over one keep-alive connection, and N with a key that does not exist (the API
function's 401; from several loopback addresses, as a source is refused after 20 failed
lookups a minute). Each request's time is from sending it to reading the whole answer.

Before the gateway answered in one write with TCP_NODELAY, each took ~44-48 ms: the
body's segment waited for the client's delayed ACK of the headers' (Nagle). Target:
p50 ≤ 5 ms for the cached-key GET.

It prints the load average (the machine is shared) with the figures; the last line is
one JSON object.

    make bench-gateway [ARGS="--requests 500"]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.events import local_stack, percentile
from tether.domain.api_keys import KEY_PREFIX
from tether.services.api_keys import FAILURES_PER_MINUTE
from tether_dev.local.client import LocalStack
from tether_dev.local.demo import create_tenant
from tether_dev.scratch import scratch_database

DATABASE = "tether_bench_gateway"
PATH = "/v1/settings"
WARM_UP = 20
BAD_KEY = KEY_PREFIX + "0" * 43  # the form of a key, but no such key


def timed(connection: http.client.HTTPConnection, key: str, expect: int) -> float:
    """One GET on the open connection: its milliseconds, the answer read whole."""
    started = time.perf_counter()
    connection.request("GET", PATH, headers={"Authorization": f"Bearer {key}"})
    response = connection.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != expect:
        raise RuntimeError(f"GET {PATH}: {response.status} {body[:200]!r}, not {expect}")
    return elapsed


def connect(stack: LocalStack, source: str = "") -> http.client.HTTPConnection:
    host, port = stack.gateway_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30, source_address=(source, 0))
    connection.connect()
    return connection


def gets(stack: LocalStack, key: str, requests: int) -> list[float]:
    with contextlib.closing(connect(stack)) as connection:
        for _ in range(WARM_UP):  # the key's cache, the connection pool, the imports
            timed(connection, key, 200)
        return [timed(connection, key, 200) for _ in range(requests)]


def unauthorized(stack: LocalStack, requests: int) -> list[float]:
    """401s: a source is refused (429) after FAILURES_PER_MINUTE failed lookups in a
    minute, so each keep-alive connection comes from a loopback address of its own
    (Linux answers all of 127.0.0.0/8) and makes fewer than that."""
    per_source = FAILURES_PER_MINUTE - 1
    with contextlib.closing(connect(stack, "127.0.9.1")) as connection:
        for _ in range(per_source):
            timed(connection, BAD_KEY, 401)
    times: list[float] = []
    for n in range(math.ceil(requests / per_source)):
        with contextlib.closing(connect(stack, f"127.0.{1 + n // 250}.{1 + n % 250}")) as conn:
            times += [
                timed(conn, BAD_KEY, 401) for _ in range(min(per_source, requests - len(times)))
            ]
    return times


def figures(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(statistics.median(values), 2),
        f"{name}_p90_ms": round(percentile(values, 90), 2),
        f"{name}_p99_ms": round(percentile(values, 99), 2),
    }


def run(database_url: str, requests: int) -> dict[str, object]:
    data_dir = Path(tempfile.mkdtemp(prefix="tether-bench-gateway-"))
    with local_stack(database_url, data_dir) as stack:
        _, key = create_tenant(stack, "bench gateway")
        load_before = os.getloadavg()
        get_times = gets(stack, key, requests)
        unauthorized_times = unauthorized(stack, requests)
        load_after = os.getloadavg()
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "requests": requests,
        **figures("get", get_times),
        **figures("unauthorized", unauthorized_times),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with scratch_database(DATABASE) as database_url:
        result = run(database_url, args.requests)
    for name, label in (("get", f"GET {PATH}, cached key"), ("unauthorized", "401, unknown key")):
        print(
            f"{label}: p50 {result[f'{name}_p50_ms']} ms, p90 {result[f'{name}_p90_ms']} ms,"
            f" p99 {result[f'{name}_p99_ms']} ms over {result['requests']} requests"
            " (keep-alive)"
        )
    print(f"load average {result['load_before']} → {result['load_after']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
