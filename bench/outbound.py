"""Sends through the outbound function, against the sandbox provider over real HTTP.

Stores 10,000 sends (not timed), then feeds them to ``functions/outbound/app.handler``
as SQS batch events of 10 records, the way Lambda would, with pacing off and the whole
day a sending window. The sandbox runs in its own process. Prints sends/s, p50/p99 per
send, and the Postgres statements and round trips per send; last, a JSON line.

    make bench-outbound [ARGS="--sends 10000"]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from typing import Any

import psycopg

from tether.db.connection import FreshConnections, as_role, connect
from tether.db.unit_of_work import UnitOfWork
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether.services.outbound import OutboundMessage, SendRequest, handle_queued_sends, request_send
from tether_dev.scratch import scratch_database

DATABASE = "tether_bench_outbound"
BATCH = 10


def _record(body: str) -> dict[str, Any]:
    """An OutboundQueue record as Lambda hands it over (the function validates every
    field of Powertools' SqsRecordModel)."""
    sent = str(int(time.time() * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "h",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": sent,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": sent,
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:outbound",
        "awsRegion": "us-east-1",
    }


def run_sandbox(pipe: Pipe) -> None:
    from tether.observability import logger
    from tether_dev.sandbox import SandboxConfig, SandboxServer

    # the sends ask for status callbacks at a port nothing listens on (the bench times
    # sends only): the sandbox's warning for each is not a figure
    logger.setLevel("ERROR")
    server = SandboxServer(SandboxConfig()).start()
    pipe.send(server.url)
    pipe.recv()  # until the bench is done
    pipe.send(len(server.texts()))
    server.stop()


def prepare(admin_url: str, sandbox_url: str, sends: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    credentials = {"account_id": "sandbox", "api_token": "sandbox-token", "base_url": sandbox_url}
    with connect(admin_url, autocommit=True) as admin:
        tenant = admin.execute(
            "INSERT INTO tenants (name) VALUES ('bench') RETURNING id"
        ).fetchone()["id"]  # type: ignore[index]
        admin.execute(
            # a window wider than 08:00-21:00 needs the tenant's attestation (migration 0017)
            "INSERT INTO tenant_config (tenant_id, quiet_hours_start, quiet_hours_end,"
            " send_segments_per_second, send_segments_per_day, quiet_hours_wider_attested)"
            " VALUES (%s, '00:00', '23:59:59', NULL, NULL, true)",
            (tenant,),
        )
        account = admin.execute(
            "INSERT INTO provider_accounts (tenant_id, provider, name, credentials_ref)"
            " VALUES (%s, 'sandbox', 'bench', %s) RETURNING id",
            (tenant, "local:" + json.dumps(credentials)),
        ).fetchone()["id"]  # type: ignore[index]
        campaign = admin.execute(
            "INSERT INTO campaigns (tenant_id, name, pool, template) VALUES (%s, 'bench', 'bench', 'Hi there')"
            " RETURNING id",
            (tenant,),
        ).fetchone()["id"]  # type: ignore[index]
        leads = [
            row["id"]
            for row in admin.execute(
                "INSERT INTO leads (tenant_id, campaign_id, phone)"
                " SELECT %s, %s, '+1650' || lpad(g::text, 7, '0') FROM generate_series(2000000, 2000000 + %s - 1) g"
                " RETURNING id",
                (tenant, campaign, sends),
            )
        ]
    app = FreshConnections(as_role(admin_url, "tether_app"))
    now = datetime.now(UTC)
    register_numbers(
        UnitOfWork(app, tenant),
        tenant,
        account,
        "bench",
        [NumberRow(f"+1415555{n:04d}") for n in range(100, 110)],
    )
    stage_campaign(UnitOfWork(app, tenant), campaign, now, rotation_numbers=9)
    started = time.monotonic()
    messages = []
    with connect(as_role(admin_url, "tether_app")) as conn:
        source = _Single(conn)
        for lead in leads:
            request = SendRequest(
                tenant_id=tenant, campaign_id=campaign, lead_id=lead, template="bench"
            )
            messages.append(request_send(UnitOfWork(source, tenant), request, now, None).message_id)
    print(f"stored {len(messages)} sends in {time.monotonic() - started:.1f}s")
    return tenant, messages


class _Single:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def acquire(self) -> psycopg.Connection[Any]:
        return self.conn

    def release(self, conn: psycopg.Connection[Any]) -> None:
        pass


@contextmanager
def counting_round_trips() -> Iterator[dict[str, int]]:
    """Count what every connection sends: statements, the commits or rollbacks that
    end a transaction (one of an idle connection sends nothing), and the round trips:
    each statement outside a pipeline, each pipeline (its statements go together), and
    each end."""
    counts = {"statements": 0, "ends": 0, "round_trips": 0}
    originals = {
        name: getattr(psycopg.Connection, name)
        for name in ("execute", "commit", "rollback", "pipeline")
    }
    depth: dict[int, int] = {}

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["statements"] += 1
        if not depth.get(id(self)):
            counts["round_trips"] += 1
        return originals["execute"](self, *args, **kwargs)

    def ending(name: str) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                counts["ends"] += 1
                counts["round_trips"] += 1
            return originals[name](self, *args, **kwargs)

        return wrapper

    @contextmanager
    def pipeline(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        depth[id(self)] = depth.get(id(self), 0) + 1
        try:
            with originals["pipeline"](self, *args, **kwargs) as block:
                yield block
        finally:
            depth[id(self)] -= 1
            if not depth[id(self)]:
                counts["round_trips"] += 1

    replacements = {
        "execute": execute,
        "commit": ending("commit"),
        "rollback": ending("rollback"),
        "pipeline": pipeline,
    }
    for name, replacement in replacements.items():
        setattr(psycopg.Connection, name, replacement)
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(psycopg.Connection, name, original)


class LambdaContextStub:
    function_name = "tether-outbound"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tether-outbound"
    aws_request_id = "bench"


def container(args: tuple[list[dict[str, Any]], float]) -> tuple[list[float], dict[str, int], int]:
    """One Lambda container: its own import of the function, its own connection, its
    share of the batches. Returns latencies per send, round-trip counts, failures."""
    records, start_at = args
    from functions.outbound import app

    latencies: list[float] = []

    def timed(*call: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return handle_queued_sends(*call, **kwargs)
        finally:
            latencies.append((time.perf_counter() - began) * 1000)

    setattr(app, "handle_queued_sends", timed)  # noqa: B010 - the handler's own reference
    failures = 0
    while time.time() < start_at:
        time.sleep(0.001)
    with counting_round_trips() as counts:
        for start in range(0, len(records), BATCH):
            result = app.handler({"Records": records[start : start + BATCH]}, LambdaContextStub())
            failures += len(result["batchItemFailures"])
    return latencies, counts, failures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--containers", type=int, default=4, help="concurrent Lambda containers")
    args = parser.parse_args()

    ours, theirs = multiprocessing.Pipe()
    sandbox = multiprocessing.get_context("spawn").Process(
        target=run_sandbox, args=(theirs,), daemon=True
    )
    sandbox.start()
    sandbox_url = ours.recv()
    with scratch_database(DATABASE) as admin_url:
        tenant, messages = prepare(admin_url, sandbox_url, args.sends)
        os.environ["DATABASE_URL"] = admin_url
        os.environ["OUTBOUND_QUEUE_URL"] = "https://sqs.us-east-1.amazonaws.com/123456789012/unused"
        # sends ask for status callbacks here; nothing listens (the bench times sends only)
        os.environ["WEBHOOK_BASE_URL"] = "http://127.0.0.1:9"
        records = [
            _record(OutboundMessage(tenant_id=tenant, message_id=m).model_dump_json())
            for m in messages
        ]
        share = -(-len(records) // args.containers)
        start_at = time.time() + 2.0  # every container imported and waiting
        jobs = [(records[n * share : (n + 1) * share], start_at) for n in range(args.containers)]
        with multiprocessing.get_context("fork").Pool(args.containers) as pool:
            results = pool.map(container, jobs)
        elapsed = time.time() - start_at
        ours.send("done")
        texts = ours.recv()
        with connect(admin_url) as admin:
            sent = admin.execute(
                "SELECT count(*) AS n FROM messages WHERE status = 'sent'"
            ).fetchone()["n"]  # type: ignore[index]
    latencies = [value for result in results for value in result[0]]
    statements = sum(result[1]["statements"] for result in results)
    round_trips = sum(result[1]["round_trips"] for result in results)
    failures = sum(result[2] for result in results)
    cuts = statistics.quantiles(latencies, n=100)
    figures = {
        "sends": len(messages),
        "containers": args.containers,
        "sent": sent,
        "texts_at_provider": texts,
        "batch_failures": failures,
        "sends_per_s": round(len(messages) / elapsed, 1),
        "p50_ms": round(cuts[49], 3),
        "p99_ms": round(cuts[98], 3),
        "statements_per_send": round(statements / len(messages), 2),
        "round_trips_per_send": round(round_trips / len(messages), 2),
    }
    print(
        f"{figures['sends']} sends by {args.containers} container(s) in {elapsed:.1f}s:"
        f" {figures['sends_per_s']} sends/s, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms;"
        f" {figures['statements_per_send']} statements and {figures['round_trips_per_send']} round trips"
        f" per send; {texts} texts at the provider, {failures} batch failures"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
