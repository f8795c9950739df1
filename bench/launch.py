"""One launch of 100,000 leads, from the request to every first send queued.

Seeds a campaign staged on 10 numbers with 100,000 leads (not timed), then runs the
pieces of the local stack the launch goes through: moto's SQS (in a process of its own)
with the template's queues, the API function behind the local gateway (real HTTP), and
LaunchQueue's poller invoking the launch function as Lambda's event source mapping
would (BatchSize 1, partial batch failures). The clock starts when the launch request is sent and stops when
the launch reports complete and every lead's first message is stored and on
OutboundQueue (in bundles of ten sends a message: tether.services.outbound). Nobody
consumes OutboundQueue here: the sends themselves are `make bench-outbound`'s.

Besides the seconds, it reports the CPU seconds the launch took in its three processes
(this one with the function, moto's, and the database backends of the bench's
database) and the load average when it started: the machine is shared, and on a busy
one the seconds grow with the load while the CPU seconds do not.

Concurrent consumers: one. The local stack runs one invocation at a time (one process,
as one Lambda container), and a launch has one chunk in flight by design (its chain; see
tether.services.launches), so more pollers would only take turns.

    make bench-launch [ARGS="--leads 100000 --chunk-size 1000"]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import resource
import statistics
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from tether.config import PROJECT_ROOT, DatabaseSettings
from tether.db.connection import FreshConnections, as_role, connect
from tether.db.unit_of_work import UnitOfWork
from tether.services.api_keys import create_tenant
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether.services.outbound import SENDS_PER_MESSAGE
from tether_dev.local.aws import MotoServer, claim_port, client, provision, queue_url
from tether_dev.local.gateway import LocalGateway
from tether_dev.local.logs import use_terminal_logs
from tether_dev.local.pollers import QueuePoller
from tether_dev.local.runtime import FunctionRunner, Invocation, local_environment
from tether_dev.local.stack import local_parameters
from tether_dev.local.template import load_template, read_stack
from tether_dev.scratch import scratch_database

DATABASE = "tether_bench_launch"
NUMBERS = 10


def prepare(admin_url: str, leads: int) -> tuple[UUID, UUID, str]:
    """A tenant with its key, a campaign staged on its numbers, and its leads."""
    jobs = FreshConnections(as_role(admin_url, "tether_jobs"))
    tenant, issued = create_tenant(UnitOfWork(jobs), "bench")
    with connect(admin_url, autocommit=True) as admin:
        account = admin.execute(
            "INSERT INTO provider_accounts (tenant_id, provider, name, credentials_ref)"
            " VALUES (%s, 'sandbox', 'bench', 'local:{}') RETURNING id",
            (tenant,),
        ).fetchone()["id"]  # type: ignore[index]
        # the brand and contact a HELP reply names: a launch needs them
        admin.execute(
            "UPDATE tenant_config SET brand_name = 'Bench', help_contact = 'help@bench.example'"
            " WHERE tenant_id = %s",
            (tenant,),
        )
        campaign = admin.execute(
            "INSERT INTO campaigns (tenant_id, name, pool, template)"
            " VALUES (%s, 'bench', 'bench', 'Hi {first_name|there}, still selling?') RETURNING id",
            (tenant,),
        ).fetchone()["id"]  # type: ignore[index]
        admin.execute(
            "INSERT INTO leads (tenant_id, campaign_id, phone)"
            " SELECT %s, %s, '+1650' || lpad(g::text, 7, '0')"
            " FROM generate_series(2000000, 2000000 + %s - 1) g",
            (tenant, campaign, leads),
        )
        admin.execute("ANALYZE leads")
    app = FreshConnections(as_role(admin_url, "tether_app"))
    register_numbers(
        UnitOfWork(app, tenant),
        tenant,
        account,
        "bench",
        [NumberRow(f"+1415555{n:04d}") for n in range(100, 100 + NUMBERS)],
    )
    stage_campaign(UnitOfWork(app, tenant), campaign, datetime.now(UTC), NUMBERS - 1)
    return tenant, campaign, issued.key


def post(url: str, key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - the local gateway
        url,
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=29) as answer:  # noqa: S310
        return answer.status, json.loads(answer.read())


def backend_cpu_seconds(admin_url: str) -> float:
    """CPU seconds of the database's backends serving the bench's database (other than
    the asking one), read from /proc: the server is on this machine."""
    with connect(admin_url, autocommit=True) as admin:
        pids = [
            row["pid"]
            for row in admin.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        ]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def serve_moto(port: int, stop: Any) -> None:
    """SQS in a process of its own, as it is a service of its own in AWS: its work does
    not share the launch function's interpreter (and GIL). Its access log (a line per
    SQS call, thousands a launch) stays off the terminal; warnings and errors do not."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = MotoServer("127.0.0.1", port).start()
    stop.wait()
    server.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    use_terminal_logs("WARNING")
    with scratch_database(DATABASE) as admin_url:
        started = time.monotonic()
        _, campaign, key = prepare(admin_url, args.leads)
        print(f"seeded {args.leads} leads in {time.monotonic() - started:.1f}s")
        context = multiprocessing.get_context("spawn")
        moto_stop = context.Event()
        moto_port = claim_port("127.0.0.1", 0)
        moto_process = context.Process(target=serve_moto, args=(moto_port, moto_stop))
        moto_process.start()
        moto_url = f"http://127.0.0.1:{moto_port}"
        wait_for_port(moto_port)
        stack = read_stack(
            load_template(PROJECT_ROOT / "template.yaml"),
            lambda name: queue_url(moto_url, name),
            local_parameters(DatabaseSettings(), [("LogLevel", "WARNING")]),
        )
        provision(stack, moto_url)
        runner = FunctionRunner(
            stack,
            PROJECT_ROOT,
            local_environment(aws_endpoint_url=moto_url, database_url=admin_url)
            | {"LAUNCH_CHUNK_SIZE": str(args.chunk_size)},
        )
        runner.warm()
        chunk_ms: list[float] = []

        def invoke(function: Any, event: Any, request_id: str) -> Invocation:
            invocation = runner.invoke(function, event, request_id)
            if function.logical_id == "LaunchFunction":
                chunk_ms.append(invocation.duration_ms)
            return invocation

        launch_function = stack.function("LaunchFunction")
        (source,) = launch_function.queue_sources
        launch_queue = stack.queue(source.queue)
        sqs = client("sqs", moto_url)
        poller = QueuePoller(
            launch_function,
            source,
            launch_queue.name,
            queue_url(moto_url, launch_queue.name),
            sqs,
            invoke,
        ).start()
        gateway = LocalGateway(
            stack.routes,
            stack.stage,
            lambda logical_id, event, request_id: runner.invoke(
                stack.function(logical_id), event, request_id
            ),
            "127.0.0.1",
            0,
        ).start()
        outbound_url = queue_url(moto_url, stack.queue("OutboundQueue").name)
        try:
            load = os.getloadavg()[0]
            cpu_before = own_cpu_seconds()
            backends_before = backend_cpu_seconds(admin_url)
            began = time.monotonic()
            status, launch = post(f"{gateway.url}/v1/campaigns/{campaign}/launch", key)
            answered = time.monotonic() - began
            assert status == 202, (status, launch)
            with connect(admin_url, autocommit=True) as admin:
                while True:
                    row = admin.execute(
                        "SELECT l.status, l.queued, l.chunk_seq,"
                        # counted once the launch is complete (a count of every poll
                        # would take the database's time from the launch it measures)
                        " CASE WHEN l.status = 'complete' THEN"
                        " (SELECT count(*) FROM messages m WHERE m.tenant_id = l.tenant_id"
                        "  AND m.template = 'launch' AND m.enqueued_at IS NOT NULL) END"
                        " AS enqueued"
                        " FROM launches l WHERE l.id = %s",
                        (launch["id"],),
                    ).fetchone()
                    assert row is not None
                    if row["status"] == "complete" and row["enqueued"] == args.leads:
                        break
                    if time.monotonic() - began > args.timeout:
                        raise SystemExit(f"gave up after {args.timeout:.0f}s: {row}")
                    time.sleep(0.2)
            elapsed = time.monotonic() - began
            launch_cpu = own_cpu_seconds() - cpu_before
            database_cpu = backend_cpu_seconds(admin_url) - backends_before
        finally:
            poller.stop()
            poller.join(35)
            gateway.close()
        on_queue = int(
            sqs.get_queue_attributes(
                QueueUrl=outbound_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        moto_stop.set()
        moto_process.join(30)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # moto, for the whole run
    moto_cpu = children.ru_utime + children.ru_stime
    cuts = statistics.quantiles(chunk_ms, n=100) if len(chunk_ms) > 1 else chunk_ms * 99
    figures = {
        "leads": args.leads,
        "seconds": round(elapsed, 2),
        "leads_per_s": round(args.leads / elapsed, 1),
        "request_answered_ms": round(answered * 1000, 1),
        "chunks": row["chunk_seq"],
        "chunk_size": args.chunk_size,
        "chunk_p50_ms": round(cuts[49], 1),
        "chunk_p99_ms": round(cuts[98], 1),
        "queued": row["queued"],
        "on_outbound_queue": on_queue,
        "sends_per_message": SENDS_PER_MESSAGE,
        "consumers": 1,
        "cpu_s": {
            "launch": round(launch_cpu, 1),
            "database": round(database_cpu, 1),
            "moto": round(moto_cpu, 1),
        },
        "load_avg_at_start": round(load, 2),
    }
    print(
        f"{args.leads} leads launched in {elapsed:.1f}s ({figures['leads_per_s']} leads/s):"
        f" the request answered 202 in {figures['request_answered_ms']} ms; {row['chunk_seq']}"
        f" chunks of {args.chunk_size}, p50 {figures['chunk_p50_ms']} ms, p99"
        f" {figures['chunk_p99_ms']} ms each; {on_queue} messages on OutboundQueue; one consumer;"
        f" CPU s: launch {launch_cpu:.1f}, database {database_cpu:.1f}, moto {moto_cpu:.1f};"
        f" load average {load:.2f} at the start"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
