"""Cold start of every function: import plus first invocation, in fresh processes.

    make bench-coldstart     (or .venv/bin/python bench/coldstart.py [--runs 5] [functions...])

For each functions/<name>/app.py, in a new interpreter each time (as a Lambda container
starts; the layer and the functions importable through the virtual environment's .pth,
as /opt/python and the task root are in Lambda; awscrt and pyOpenSSL, which only the
development tools bring, hidden as Lambda lacks them), times `import functions.<name>.app` and
then one call of its handler with the sample event from events/. Prints per function the
medians of --runs processes and, from one `python -X importtime` run of the same import
and invocation, the ten modules with the largest cumulative import time.

What the first invocation reaches: no database and no AWS. DATABASE_URL and every AWS
endpoint point at a closed local port (refused at once, no retries), so each handler
imports and builds what its first call needs (settings, the tracer with the X-Ray SDK as
`Tracing: Active` makes it, boto3 clients, psycopg, the domain), then fails at its first
round trip and answers its error (the "outcome" column). So `_total_ms` is a lower bound
of a real cold start: add the round trips a handler makes (connect, queries, SQS). It is
the part lazy imports can change.

Bytecode: the children read every module's compiled bytecode from a cache of the bench's
own (PYTHONPYCACHEPREFIX, filled by one untimed run per function), whatever the caller's
environment says, so runs compare. `--no-bytecode` compiles every module from source in
each child instead: what a layer built without .pyc files pays in Lambda, whose /opt is
read-only.

Also printed: the CPU time of each child (its process time), steadier than the wall clock
when other work shares the machine.

`--baseline DIR` times another commit's tree too (`git worktree add DIR <commit>`), its
children alternating with this tree's so that both meet the same load; its medians are
printed above this tree's.

The last line is a JSON object: `<function>_import_ms`, `<function>_total_ms` and
`<function>_cpu_ms` (and `<function>_baseline_total_ms`, `_baseline_cpu_ms`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGETS_MS = {"webhook": 250.0, "inbound": 250.0, "outbound": 250.0, "api": 400.0}
# the sample event each function is called with (events/<name>.json unless named here)
EVENTS = {
    "api": "api/list_campaigns.json",
    "webhook": "webhook/twilio_inbound.json",
    "websocket": "websocket/connect.json",
}
CLOSED = "127.0.0.1:9"  # the discard port: nothing listens, a connect is refused at once
ENVIRONMENT = {
    "TETHER_STAGE": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "tether-coldstart",  # Powertools: "in Lambda"
    "LAMBDA_TASK_ROOT": str(ROOT),  # the X-Ray SDK: "in Lambda" (its local sampler)
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_ENDPOINT_URL": f"http://{CLOSED}",
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_RETRY_MODE": "standard",
    "DATABASE_URL": f"postgresql://tether@{CLOSED}/tether?connect_timeout=1",
    "APP_DATABASE_URL": f"postgresql://tether_app@{CLOSED}/tether?connect_timeout=1",
    "JOBS_DATABASE_URL": f"postgresql://tether_jobs@{CLOSED}/tether?connect_timeout=1",
    # what template.yaml gives the functions, pointing nowhere that answers
    "INBOUND_QUEUE_URL": f"http://{CLOSED}/123456789012/tether-inbound",
    "OUTBOUND_QUEUE_URL": f"http://{CLOSED}/123456789012/tether-outbound",
    "LAUNCH_QUEUE_URL": f"http://{CLOSED}/123456789012/tether-launch",
    "EVENTS_QUEUE_URL": f"http://{CLOSED}/123456789012/tether-events",
    "EVENT_BUS_NAME": "tether-bench",
    "IDEMPOTENCY_TABLE_NAME": "tether-idempotency",
    "CONNECTIONS_TABLE_NAME": "tether-connections",
    "WEBHOOK_BASE_URL": "https://api.example.invalid",
    "WEBSOCKET_MANAGEMENT_URL": f"http://{CLOSED}/bench",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "tether",
    "POWERTOOLS_METRICS_NAMESPACE": "Tether",
}
# Installed here for the development tools (aws-sam-cli) but neither in the layer nor in
# Lambda's runtime: botocore and urllib3 import them when present (about 80 ms), so each
# child imports as if they were absent, as a Lambda container does.
NOT_IN_LAMBDA = ("awscrt", "OpenSSL")
# One container's cold start; prints the two times and what the handler answered.
CHILD = """
import json, sys, time
sys.modules.update(dict.fromkeys({absent!r}))  # None there: `import` raises ImportError
started, cpu_started = time.perf_counter(), time.process_time()
import functions.{name}.app as app
imported = time.perf_counter()
from tests.support.lambda_context import LambdaContextStub
event = json.loads(open({event!r}).read())
try:
    answer = app.handler(event, LambdaContextStub(function_name="tether-{name}"))
    outcome = str(answer.get("statusCode", "ok")) if isinstance(answer, dict) else "ok"
except Exception as error:
    outcome = type(error).__name__
done, cpu_done = time.perf_counter(), time.process_time()
print(json.dumps({{"import_ms": (imported - started) * 1000,
                  "total_ms": (done - started) * 1000,
                  "cpu_ms": (cpu_done - cpu_started) * 1000, "outcome": outcome}}),
      file=sys.__stdout__)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("functions", nargs="*", help="default: every functions/*/app.py")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="compile every module in every child"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another commit's tree (git worktree add / git archive): its children"
        " alternate with this tree's, so both see the same load",
    )
    args = parser.parse_args()
    names = args.functions or sorted(
        path.parent.name for path in (ROOT / "functions").glob("*/app.py")
    )
    with tempfile.TemporaryDirectory(prefix="coldstart-pycache-") as cache:
        return measure(
            names,
            args.runs,
            args.top,
            Path(cache),
            compiled=not args.no_bytecode,
            baseline=args.baseline.resolve() if args.baseline else None,
        )


def measure(
    names: list[str],
    runs_each: int,
    top: int,
    cache: Path,
    *,
    compiled: bool,
    baseline: Path | None,
) -> int:
    figures: dict[str, float] = {}
    for name in names:
        trees = [ROOT] if baseline is None else [baseline, ROOT]
        if compiled:
            for tree in trees:
                child(name, cache, write_bytecode=True, tree=tree)  # fills the cache; not timed
        pairs = [[child(name, cache, tree=tree) for tree in trees] for _ in range(runs_each)]
        if baseline is not None:
            before = [pair[0] for pair in pairs]
            print(
                f"{name} (baseline {baseline.name}): import + first invocation"
                f" {statistics.median(run['total_ms'] for run in before):.0f} ms"
                f" ({statistics.median(run['cpu_ms'] for run in before):.0f} ms CPU)"
            )
            figures[f"{name}_baseline_total_ms"] = round(
                statistics.median(run["total_ms"] for run in before), 1
            )
            figures[f"{name}_baseline_cpu_ms"] = round(
                statistics.median(run["cpu_ms"] for run in before), 1
            )
        runs = [pair[-1] for pair in pairs]
        import_ms = statistics.median(run["import_ms"] for run in runs)
        total_ms = statistics.median(run["total_ms"] for run in runs)
        cpu_ms = statistics.median(run["cpu_ms"] for run in runs)
        outcomes = sorted({run["outcome"] for run in runs})
        target = TARGETS_MS.get(name)
        verdict = (
            ""
            if target is None
            else f"  target ≤ {target:.0f} ms: "
            + ("met" if total_ms <= target else f"{total_ms - target:+.0f} ms over")
        )
        print(
            f"{name}: import {import_ms:.0f} ms, import + first invocation {total_ms:.0f} ms"
            f" ({cpu_ms:.0f} ms CPU; medians of {len(runs)}; outcome {', '.join(outcomes)})"
            f"{verdict}"
        )
        for module, ms in importtime_top(name, top, cache):
            print(f"    {ms:8.1f} ms  {module}")
        figures[f"{name}_import_ms"] = round(import_ms, 1)
        figures[f"{name}_total_ms"] = round(total_ms, 1)
        figures[f"{name}_cpu_ms"] = round(cpu_ms, 1)
    print(json.dumps(figures))
    return 0


def child_script(name: str, tree: Path = ROOT) -> str:
    event = tree / "events" / EVENTS.get(name, f"{name}.json")
    return CHILD.format(name=name, event=str(event), absent=NOT_IN_LAMBDA)


def child_env(cache: Path, *, write_bytecode: bool = False, tree: Path = ROOT) -> dict[str, str]:
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DB_", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"))
    }
    bytecode = {"PYTHONPYCACHEPREFIX": str(cache)}
    if not write_bytecode:
        bytecode["PYTHONDONTWRITEBYTECODE"] = "1"
    # another tree's layer and tools ahead of this one's (the virtual environment's .pth)
    paths = [str(tree / "layers" / "shared"), str(tree / "dev"), str(tree)]
    if tree == ROOT:
        paths = []
    return {**keep, **ENVIRONMENT, **bytecode, "PYTHONPATH": os.pathsep.join(paths)}


def child(
    name: str, cache: Path, *, write_bytecode: bool = False, tree: Path = ROOT
) -> dict[str, Any]:
    ran = subprocess.run(
        [sys.executable, "-c", child_script(name, tree)],
        cwd=tree,
        env=child_env(cache, write_bytecode=write_bytecode, tree=tree),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if ran.returncode != 0:
        raise RuntimeError(f"{name}: the child failed:\n{ran.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    return result


def importtime_top(name: str, top: int, cache: Path) -> list[tuple[str, float]]:
    """The modules with the largest cumulative import time, import and first call both
    (python -X importtime; a package's figure includes what it imports)."""
    if top <= 0:
        return []
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", child_script(name)],
        cwd=ROOT,
        env=child_env(cache),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stderr
    cumulative: list[tuple[str, float, int]] = []  # module, ms, nesting depth
    for line in trace.splitlines():
        columns = line.removeprefix("import time:").split("|")
        if len(columns) != 3 or not columns[1].strip().isdigit():
            continue
        module = columns[2].rstrip()
        depth = (len(module) - len(module.lstrip())) // 2
        cumulative.append((module.strip(), int(columns[1]) / 1000, depth))
    # the top ten outside the test support and the handler itself, each with its depth
    # shown so a reader sees which sit inside which
    ranked = sorted(
        (
            (module, ms)
            for module, ms, _depth in cumulative
            if not module.startswith(("functions", "tests"))
        ),
        key=lambda item: -item[1],
    )
    return ranked[:top]


if __name__ == "__main__":
    sys.exit(main())
