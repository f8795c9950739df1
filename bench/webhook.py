"""Benchmark of the webhook function, in process: real Postgres, moto's DynamoDB and SQS.

    make bench-webhook        (or .venv/bin/python bench/webhook.py [--requests N])

Runs the handler as one Lambda container would, one request after another on one
reused connection, over signed events from every provider's samples (each a new
event, so every request stores and enqueues). Prints p50/p99 latency, throughput,
where the time goes, and the fresh-process import time of functions/webhook/app.py;
the last line is a JSON object of the figures. Exits non-zero only when it could not run.

The handler logs at template.yaml's default LogLevel (INFO) and prints its EMF, as in
Lambda, so each request pays for its lines; they go to a file, named (with its last
lines) when the bench fails and removed when it does not.

moto answers SendMessage in time proportional to the queue's depth (it counts every
message), which SQS does not, so the queue is drained after each request, outside the
timed part. moto itself costs a few milliseconds a call, all of it counted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 25.0
TARGET_IMPORT_MS = 400.0
HANDLER_LOG_LEVEL = "INFO"  # template.yaml's LogLevel default


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--import-runs", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench"
    )
    # the bench's own setup (the database, its migrations) logs nothing below WARNING
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    import_ms, first_call_import_ms, import_top = measure_import(args.import_runs)
    with bench_database() as (admin_url, app_url), moto_aws() as aws:
        accounts = make_accounts(admin_url)
        handler, drain = wire_handler(app_url, aws)
        events = make_events(accounts, args.warmup + args.requests)

        def run(event: dict[str, Any]) -> Callable[[], None]:
            return lambda: check(handler(event))

        with handler_output():
            first_ms = timed(run(events[0]))
            drain()
            for event in events[1 : args.warmup]:
                run(event)()
                drain()
            latencies: list[float] = []
            load_before = os.getloadavg()[0]
            cpu_started = time.process_time()
            started = time.perf_counter()
            for event in events[args.warmup :]:
                latencies.append(timed(run(event)))
                drain()
            elapsed = time.perf_counter() - started
            cpu_s = time.process_time() - cpu_started
            load_after = os.getloadavg()[0]
            drain_s = sum(timed(drain) for _ in range(10)) / 10 / 1000  # per request, excluded
            parts = breakdown(handler, drain, make_events(accounts, 500))

    latencies.sort()
    measured_s = elapsed - drain_s * len(latencies)
    figures = {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p90_ms": round(percentile(latencies, 0.90), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2),
        "throughput_per_s": round(len(latencies) / measured_s, 1),
        # CPU this process spent per request (queue draining included): unlike wall
        # time, hardly moved by other processes on a shared machine
        "cpu_ms_per_request": round(cpu_s * 1000 / len(latencies), 2),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(load_after, 2),
        "first_call_ms": round(first_ms, 1),
        "import_ms": round(import_ms, 1),
        "first_call_import_ms": round(first_call_import_ms, 1),
        **{f"{name}_ms_per_request": round(ms, 2) for name, ms in parts.items()},
    }
    print(f"webhook handler, {len(latencies)} sequential requests on one connection:")
    print(
        f"  p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, p99 {figures['p99_ms']} ms"
        f" (target {TARGET_P99_MS}), max {figures['max_ms']} ms"
    )
    print(
        f"  throughput {figures['throughput_per_s']} requests/s; first call {figures['first_call_ms']} ms"
    )
    print("  where a request's time goes (a second run of 500, timed per part; ms per request):")
    for name, ms in parts.items():
        print(f"    {name:<24} {ms:6.2f}")
    print(
        f"import of functions/webhook/app.py in a fresh process: {figures['import_ms']} ms"
        f" (median of {args.import_runs}; target {TARGET_IMPORT_MS}); largest:"
    )
    for module, ms in import_top:
        print(f"    {module:<32} {ms:6.1f} ms")
    print(
        f"the first invocation then imports the AWS adapters (boto3, Powertools idempotency):"
        f" {figures['first_call_import_ms']} ms more, before its clients and connection"
    )
    print(json.dumps(figures))
    return 0


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def check(response: dict[str, Any]) -> None:
    if response["statusCode"] != 200 or '"duplicate"' in response["body"]:
        raise RuntimeError(f"unexpected response: {response}")


def measure_import(runs: int) -> tuple[float, float, list[tuple[str, float]]]:
    """Median wall times, in fresh interpreters, of `import functions.webhook.app` and
    of the adapters its first invocation imports (boto3, Powertools idempotency), and
    where the former goes by package (python -X importtime, each module's own time)."""
    code = (
        "import time; t = time.perf_counter(); import functions.webhook.app;"
        " u = time.perf_counter(); import tether.aws.idempotency, tether.aws.sqs;"
        " print((u - t) * 1000, (time.perf_counter() - u) * 1000)"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers' / 'shared'}"}

    def python(*arguments: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, *arguments], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode:  # its traceback is why
            raise RuntimeError(f"python {' '.join(arguments)}:\n{done.stderr[-2000:]}")
        return done

    runs_ms = [[float(ms) for ms in python("-c", code).stdout.split()] for _ in range(runs)]
    trace = python("-X", "importtime", "-c", "import functions.webhook.app").stderr
    by_package: dict[str, float] = {}  # each module's own time, summed by top-level package
    for line in trace.splitlines():
        columns = line.removeprefix("import time:").split("|")
        if len(columns) != 3 or not columns[0].strip().isdigit():
            continue
        package = columns[2].strip().split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + int(columns[0]) / 1000
    top = sorted(by_package.items(), key=lambda kv: -kv[1])[:8]
    return statistics.median(r[0] for r in runs_ms), statistics.median(r[1] for r in runs_ms), top


@contextlib.contextmanager
def bench_database() -> Iterator[tuple[str, str]]:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from tether.config import DatabaseSettings
    from tether.db.connection import as_role
    from tether.db.embedded import create_database, drop_database, start_embedded
    from tether.db.migrations import apply_pending

    settings = DatabaseSettings()
    server_url = settings.database_url or start_embedded(settings.tether_data_dir, "postgres")
    name = f"tether_bench_{uuid.uuid4().hex[:8]}"
    create_database(server_url, name)
    admin_url = make_conninfo("", **{**conninfo_to_dict(server_url), "dbname": name})
    try:
        apply_pending(conninfo=admin_url)
        yield admin_url, as_role(admin_url, "tether_app")
    finally:
        drop_database(server_url, name)


@contextlib.contextmanager
def moto_aws() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        aws = argparse.Namespace(sqs=session.client("sqs"), dynamodb=session.client("dynamodb"))
        aws.queue_url = aws.sqs.create_queue(QueueName="inbound")["QueueUrl"]
        aws.dynamodb.create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield aws


def make_accounts(admin_url: str) -> dict[str, str]:
    from tests.support.webhook_samples import SECRETS
    from tether.db.connection import connect

    with connect(admin_url, autocommit=True) as admin:
        tenant = admin.execute(
            "INSERT INTO tenants (name) VALUES ('bench') RETURNING id"
        ).fetchone()
        assert tenant is not None
        accounts = {}
        for provider, secret in SECRETS.items():
            row = admin.execute(
                "INSERT INTO provider_accounts (tenant_id, provider, name, signing_secret_ref)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (tenant["id"], provider, provider, f"local:{secret}"),
            ).fetchone()
            assert row is not None
            accounts[provider] = str(row["id"])
        return accounts


def wire_handler(
    app_url: str, aws: Any
) -> tuple[Callable[[dict[str, Any]], dict[str, Any]], Callable[[], None]]:
    from functools import partial

    import functions.webhook.app as webhook_app
    from tests.support.webhooks import FakeLambdaContext
    from tether.aws.idempotency import DynamoDbExactlyOnce
    from tether.aws.sqs import SqsQueue
    from tether.db.connection import ReusedConnection
    from tether.db.unit_of_work import UnitOfWork
    from tether.secrets import resolve_secret
    from tether.services.webhooks import WebhookPorts

    ports = WebhookPorts(
        # as in Lambda: one connection, reused
        unit_of_work=partial(UnitOfWork, ReusedConnection(app_url)),
        queue=SqsQueue(aws.queue_url, aws.sqs),
        exactly_once=DynamoDbExactlyOnce(
            "idempotency",
            key_prefix="webhook-receipt",
            expires_after_seconds=3600,
            client=aws.dynamodb,
        ),
        resolve_secret=resolve_secret,
    )
    setattr(webhook_app, "webhook_ports", lambda: ports)  # noqa: B010 - as a test would
    context = FakeLambdaContext()

    def drain() -> None:
        while batch := aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            aws.sqs.delete_message_batch(
                QueueUrl=aws.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )

    return (lambda event: webhook_app.handler(event, context)), drain


def make_events(accounts: dict[str, str], count: int) -> list[dict[str, Any]]:
    """`count` signed events, every provider's samples in turn, each a new event."""
    from tests.support.webhook_samples import (
        SAMPLES,
        load_sample,
        signed_event,
        with_form_param,
        with_json,
    )

    def fresh(name: str, n: str) -> dict[str, Any]:
        event = load_sample(name)
        provider = event["pathParameters"]["provider"]
        if provider == "sandbox":
            event["headers"]["webhook-id"] = f"msg_{n}"
        elif provider == "signalhouse":
            event["headers"]["X-SignalHouse-Delivery-Id"] = n
        elif provider == "telnyx":
            event = with_json(event, lambda b: b["data"].update(id=n))
        elif event["headers"]["Content-Type"] == "application/json":  # SignalWire RELAY
            event = with_json(event, lambda b: b["params"].update(message_id=n))
        else:  # Twilio and SignalWire compatibility callbacks
            event = with_form_param(event, "MessageSid", f"SM{n.replace('-', '')}")
        return signed_event(event, account_id=accounts[provider])

    names = list(SAMPLES)
    return [fresh(names[i % len(names)], str(uuid.uuid4())) for i in range(count)]


class Stopwatch:
    """Milliseconds spent inside chosen functions, per part of a request: each is
    wrapped in place by a timer (about a microsecond of its own per call)."""

    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = {}

    def wrap(self, owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)
        spent = self.spent.setdefault(part, [0.0])

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        setattr(owner, name, timed_call)


def breakdown(
    handler: Callable[[dict[str, Any]], Any],
    drain: Callable[[], None],
    events: list[dict[str, Any]],
) -> dict[str, float]:
    """Milliseconds per request in each part of the handler, over `events`."""
    import psycopg
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import (
        DynamoDBPersistenceLayer,
    )

    from tether.aws.sqs import SqsQueue
    from tether.webhooks.providers import WEBHOOK_PROVIDERS
    from tether.webhooks.request import WebhookRequest

    watch = Stopwatch()
    for name in ("_put_record", "_update_record"):
        watch.wrap(DynamoDBPersistenceLayer, name, "dynamodb_moto")
    watch.wrap(SqsQueue, "send", "sqs_moto")
    for name in ("execute", "commit", "rollback"):
        watch.wrap(psycopg.Connection, name, "postgres")
    for provider in WEBHOOK_PROVIDERS.values():
        watch.wrap(type(provider), "verify", "signature_check")
        watch.wrap(type(provider), "parse", "parse_payload")
    watch.wrap(WebhookRequest, "from_api_gateway", "read_request")
    whole = 0.0
    for event in events:
        started = time.perf_counter()
        handler(event)
        whole += (time.perf_counter() - started) * 1000
        drain()
    parts = {part: spent[0] * 1000 / len(events) for part, spent in watch.spent.items()}
    parts["everything_else"] = whole / len(events) - sum(parts.values())
    parts["whole"] = whole / len(events)
    return parts


@contextlib.contextmanager
def handler_output() -> Iterator[None]:
    """The handler's log lines and EMF at the deployed level, written to a file (so
    still paid for) at the file-descriptor level: the logger holds its own stdout
    handle. When the block fails, the file's path and last lines go to stderr."""
    from tether.observability import logger

    output, name = tempfile.mkstemp(prefix="bench-webhook-", suffix=".log")
    path = Path(name)
    level = logger.log_level
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(output, 1)
    logger.setLevel(HANDLER_LOG_LEVEL)
    try:
        yield
    except Exception:
        sys.stdout.flush()
        tail = path.read_text(errors="replace").splitlines()[-20:]
        print(f"the handler's output ({path}), last lines:", *tail, sep="\n", file=sys.stderr)
        raise
    else:
        path.unlink()
    finally:
        logger.setLevel(level)
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(output)
        os.close(saved)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # could not run: say why, exit non-zero
        print(f"bench/webhook.py could not run: {error!r}", file=sys.stderr)
        sys.exit(1)
