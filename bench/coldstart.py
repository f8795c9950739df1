"""Cold start of every function: import plus first invocation, in fresh processes.

    make bench-coldstart     (or .venv/bin/python bench/coldstart.py [--runs 5] [functions...])
    make bench-coldstart ARGS="--built [--baseline DIR] webhook"     (as deployed)

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
each child instead (the standard library and boto3 too, which Lambda ships compiled: an
upper bound).

`--built` measures what `sam build` ships instead: the template built for this machine's
architecture (.aws-sam/coldstart/ of each tree, `sam build --cached`), each child on
Python 3.12 (the Lambda runtime's; .venv-ministack's, whose boto3 stands for the one
the runtime provides) importing `app` from the function's build folder and everything
else from the built layer, with only the bytecode the build holds and none written
(Lambda's /opt and /var/task are read-only), as Lambda imports them. With `--baseline`
the other tree is built the same way: an older build's figures are what its deployed
layer costs.

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
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
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
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
    "POWERTOOLS_METRICS_NAMESPACE": "Tether",
}
# Installed here for the development tools (aws-sam-cli) but neither in the layer nor in
# Lambda's runtime: botocore and urllib3 import them when present (about 80 ms), so each
# child imports as if they were absent, as a Lambda container does.
NOT_IN_LAMBDA = ("awscrt", "OpenSSL")
# The interpreter of --built's children: Python 3.12 with the boto3 the runtime provides
RUNTIME_PYTHON = ROOT / ".venv-ministack" / "bin" / "python"
# One container's cold start; prints the two times, what the handler answered and where
# the tether package came from.
CHILD = """
import json, sys, time
sys.modules.update(dict.fromkeys({absent!r}))  # None there: `import` raises ImportError
started, cpu_started = time.perf_counter(), time.process_time()
import {module} as app
imported = time.perf_counter()
class Context:  # what Lambda hands a handler
    function_name = "tether-{name}"
    memory_limit_in_mb = 512
    aws_request_id = "5d4a1e5c-0b6e-4a4c-9e0f-1f0c3d5e7a11"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tether-{name}"
    def get_remaining_time_in_millis(self):
        return 30_000
event = json.loads(open({event!r}).read())
try:
    answer = app.handler(event, Context())
    outcome = str(answer.get("statusCode", "ok")) if isinstance(answer, dict) else "ok"
except Exception as error:
    outcome = type(error).__name__
done, cpu_done = time.perf_counter(), time.process_time()
print(json.dumps({{"import_ms": (imported - started) * 1000,
                  "total_ms": (done - started) * 1000,
                  "cpu_ms": (cpu_done - cpu_started) * 1000, "outcome": outcome,
                  "tether": sys.modules["tether"].__file__}}),
      file=sys.__stdout__)
"""


@dataclass(frozen=True)
class Tree:
    """Where a child's functions and layer come from: a source tree through the virtual
    environment (its pycache the bench's own), or that tree's `sam build` (--built)."""

    root: Path
    built: Path | None = None  # the build folder: <logical id>/ and SharedLayer/python

    @property
    def python(self) -> str:
        return sys.executable if self.built is None else str(RUNTIME_PYTHON)

    def function_folder(self, name: str) -> Path:
        assert self.built is not None
        return self.built / function_logical_ids(self.root)[name]

    def cwd(self, name: str) -> Path:
        """The child's working directory, first on its path (`-c`): Lambda's is the task
        root."""
        return self.root if self.built is None else self.function_folder(name)

    def layer(self) -> Path:
        return (
            self.root / "layers" / "shared"
            if self.built is None
            else self.built / "SharedLayer" / "python"
        )

    def script(self, name: str) -> str:
        event = self.root / "events" / EVENTS.get(name, f"{name}.json")
        module = f"functions.{name}.app" if self.built is None else "app"
        return CHILD.format(name=name, module=module, event=str(event), absent=NOT_IN_LAMBDA)

    def env(self, name: str, cache: Path, *, write_bytecode: bool = False) -> dict[str, str]:
        keep = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(
                ("AWS_", "DB_", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONPATH")
            )
        }
        if self.built is not None:
            # Lambda's order: the task root, then the layer, then the runtime's packages;
            # the build's own bytecode only, none written (both folders are read-only there)
            task = self.function_folder(name)
            return {
                **keep,
                **ENVIRONMENT,
                "LAMBDA_TASK_ROOT": str(task),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": os.pathsep.join([str(task), str(self.layer())]),
            }
        bytecode = {"PYTHONPYCACHEPREFIX": str(cache)}
        if not write_bytecode:
            bytecode["PYTHONDONTWRITEBYTECODE"] = "1"
        # another tree's layer and tools ahead of this one's (the virtual environment's .pth)
        paths = (
            [] if self.root == ROOT else [str(self.layer()), str(self.root / "dev"), str(self.root)]
        )
        return {
            **keep,
            **ENVIRONMENT,
            "LAMBDA_TASK_ROOT": str(self.root),  # the X-Ray SDK: "in Lambda" (its local sampler)
            **bytecode,
            "PYTHONPATH": os.pathsep.join(paths),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("functions", nargs="*", help="default: every functions/*/app.py")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="compile every module in every child"
    )
    parser.add_argument(
        "--built",
        action="store_true",
        help="as deployed: the `sam build` output for this machine, on Python 3.12",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another commit's tree (git worktree add / git archive): its children"
        " alternate with this tree's, so both see the same load",
    )
    args = parser.parse_args()
    if args.built and args.no_bytecode:
        parser.error("--built runs with the bytecode the build holds: no --no-bytecode")
    names = args.functions or sorted(
        path.parent.name for path in (ROOT / "functions").glob("*/app.py")
    )
    roots = [ROOT] if args.baseline is None else [args.baseline.resolve(), ROOT]
    if args.built:
        if not RUNTIME_PYTHON.exists():
            parser.error(f"--built runs on {RUNTIME_PYTHON}: make .venv-ministack/.installed")
        trees = [Tree(root, built=sam_build(root)) for root in roots]
    else:
        trees = [Tree(root) for root in roots]
    with tempfile.TemporaryDirectory(prefix="coldstart-pycache-") as cache:
        return measure(
            names, args.runs, args.top, Path(cache), trees, compiled=not args.no_bytecode
        )


@cache
def function_logical_ids(root: Path) -> dict[str, str]:
    """functions/<name> → its resource in the tree's template.yaml."""
    from tether_dev.local.template import load_template

    resources = load_template(root / "template.yaml")["Resources"]
    return {
        str(r["Properties"]["CodeUri"]).strip("/").removeprefix("functions/"): logical_id
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }


def sam_build(root: Path) -> Path:
    """`sam build --cached` of the tree's template for this machine's architecture (as
    deploy-check builds it) into <root>/.aws-sam/coldstart/build; that folder."""
    from tether_dev.local.deploy_check import host_architecture, host_template

    work = root / ".aws-sam" / "coldstart"
    work.mkdir(parents=True, exist_ok=True)
    architecture = host_architecture()
    copy = work / "template.yaml"
    copy.write_text(host_template((root / "template.yaml").read_text(), architecture))
    sam = shutil.which("sam", path=str(Path(sys.executable).parent)) or "sam"
    log = work / "sam-build.log"
    with log.open("w") as output:
        built = subprocess.run(
            [
                sam,
                "build",
                "--template-file",
                str(copy),
                "--base-dir",
                str(root),
                "--build-dir",
                str(work / "build"),
                "--cached",
                "--cache-dir",
                str(work / "cache"),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            # the layer's Makefile reads the architecture here (SAM does not pass it on)
            env={**os.environ, "SAM_CLI_TELEMETRY": "0", "LAYER_ARCHITECTURE": architecture},
            cwd=root,
            check=False,
        )
    if built.returncode != 0:
        raise RuntimeError(f"sam build of {root} failed: {log}\n{log.read_text()[-3000:]}")
    pyc = list((work / "build" / "SharedLayer" / "python" / "tether").rglob("*.cpython-312.pyc"))
    print(
        f"{root}: sam build for {architecture} in {work / 'build'} (layer: tether with"
        f" {len(pyc)} .pyc)"
    )
    return work / "build"


def measure(
    names: list[str],
    runs_each: int,
    top: int,
    cache: Path,
    trees: list[Tree],
    *,
    compiled: bool,
) -> int:
    figures: dict[str, float] = {}
    for name in names:
        for tree in trees:
            # not timed: fills the bench's pycache (source trees), warms the file cache
            child(name, cache, tree, write_bytecode=compiled)
        pairs = [[child(name, cache, tree) for tree in trees] for _ in range(runs_each)]
        if len(trees) > 1:
            before = [pair[0] for pair in pairs]
            print(
                f"{name} (baseline {trees[0].root.name}): import + first invocation"
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
        for module, ms in importtime_top(name, top, cache, trees[-1]):
            print(f"    {ms:8.1f} ms  {module}")
        figures[f"{name}_import_ms"] = round(import_ms, 1)
        figures[f"{name}_total_ms"] = round(total_ms, 1)
        figures[f"{name}_cpu_ms"] = round(cpu_ms, 1)
    print(json.dumps(figures))
    return 0


def child(name: str, cache: Path, tree: Tree, *, write_bytecode: bool = False) -> dict[str, Any]:
    ran = subprocess.run(
        [tree.python, "-c", tree.script(name)],
        cwd=tree.cwd(name),
        env=tree.env(name, cache, write_bytecode=write_bytecode),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if ran.returncode != 0:
        raise RuntimeError(f"{name}: the child failed:\n{ran.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    # the package measured is the tree's (or its build's), never another on the path
    if not Path(result["tether"]).is_relative_to(tree.layer()):
        raise RuntimeError(f"{name}: tether came from {result['tether']}, not {tree.layer()}")
    return result


def importtime_top(name: str, top: int, cache: Path, tree: Tree) -> list[tuple[str, float]]:
    """The modules with the largest cumulative import time, import and first call both
    (python -X importtime; a package's figure includes what it imports)."""
    if top <= 0:
        return []
    trace = subprocess.run(
        [tree.python, "-X", "importtime", "-c", tree.script(name)],
        cwd=tree.cwd(name),
        env=tree.env(name, cache),
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
    # the top ten outside the handler itself, each with its depth shown so a reader sees
    # which sit inside which
    ranked = sorted(
        (
            (module, ms)
            for module, ms, _depth in cumulative
            if not module.startswith("functions") and module != "app"
        ),
        key=lambda item: -item[1],
    )
    return ranked[:top]


if __name__ == "__main__":
    sys.exit(main())
