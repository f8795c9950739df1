"""The timers function working through a backlog of 100,000 due timers.

Stores (not timed) one tenant with four staged campaigns of ten numbers each and the
escalation map 7D → CATHY's nudge campaign, 14D → the retarget campaign, 30D → close;
then 100,000 leads with one due timer each, in this mix:

    40% TIMER_7D   moved to the nudge campaign: bound there, a text from that number
    10% TIMER_14D  moved to the retarget campaign, the same
    15% FOLLOW_UP  a follow-up in the lead's campaign
    15% CALLBACK   into the call queue
    10% TIMER_30D  closed
    10% TIMER_7D   of leads that replied meanwhile: cancelled

and calls ``functions/timers/app.handler`` with scheduled events, the way EventBridge
would, until nothing is due (each invocation has the template's 60 s). OutboundQueue is
the real SqsQueue adapter over a client that only waits a round trip per
SendMessageBatch (--sqs-ms, 15 ms by default) and counts. Prints timers/s, the claim query's p50/p99 and what the run did;
last, a JSON line.

    make bench-timers [ARGS="--timers 100000 --batch 500"]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from tether.db.connection import FreshConnections, as_role, connect
from tether.db.timers import TimerRepository
from tether.db.unit_of_work import UnitOfWork
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether_dev.scratch import scratch_database

DATABASE = "tether_bench_timers"
MIX = [  # (share, timer type, lead state)
    (40, "TIMER_7D", "touched"),
    (10, "TIMER_14D", "touched"),
    (15, "FOLLOW_UP", "responded"),
    (15, "CALLBACK", "high_intent"),
    (10, "TIMER_30D", "touched"),
    (10, "TIMER_7D", "responded"),
]


def prepare(admin_url: str, timers: int, now: datetime) -> None:
    with connect(admin_url, autocommit=True) as admin:
        tenant = admin.execute(
            "INSERT INTO tenants (name) VALUES ('bench') RETURNING id"
        ).fetchone()["id"]  # type: ignore[index]
        admin.execute("INSERT INTO tenant_config (tenant_id) VALUES (%s)", (tenant,))
        account = admin.execute(
            "INSERT INTO provider_accounts (tenant_id, provider, name) VALUES (%s, 'sandbox', 'bench')"
            " RETURNING id",
            (tenant,),
        ).fetchone()["id"]  # type: ignore[index]
        campaigns = {
            stage: admin.execute(
                "INSERT INTO campaigns (tenant_id, name, pool, workspace_stage, template)"
                " VALUES (%s, %s, 'bench', %s, %s) RETURNING id",
                (tenant, stage, stage, f"{stage} text"),
            ).fetchone()["id"]  # type: ignore[index]
            for stage in ("initial_message", "nudger", "retarget")
        }
    app = FreshConnections(as_role(admin_url, "tether_app"))
    numbers = [NumberRow(f"+1415555{n:04d}") for n in range(100, 130)]
    register_numbers(UnitOfWork(app, tenant), tenant, account, "bench", numbers)
    for campaign in campaigns.values():
        stage_campaign(UnitOfWork(app, tenant), campaign, now, rotation_numbers=9)
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(
            "INSERT INTO escalation_steps (tenant_id, timer_type, action, campaign_id) VALUES"
            " (%s, 'TIMER_7D', 'move', %s), (%s, 'TIMER_14D', 'move', %s), (%s, 'TIMER_30D', 'close', NULL)",
            (tenant, campaigns["nudger"], tenant, campaigns["retarget"], tenant),
        )
        first = 0
        for share, timer_type, state in MIX:
            count = timers * share // 100
            admin.execute(
                "WITH made AS (INSERT INTO leads (tenant_id, campaign_id, phone, state)"
                "  SELECT %s, %s, '+1650' || lpad(g::text, 7, '0'), %s::lead_state"
                "  FROM generate_series(%s, %s) g RETURNING id)"
                " INSERT INTO lead_timers (tenant_id, lead_id, timer_type, trigger_at)"
                " SELECT %s, id, %s::timer_type, %s - random() * interval '3 days' FROM made",
                (
                    tenant,
                    campaigns["initial_message"],
                    state,
                    2_000_000 + first,
                    2_000_000 + first + count - 1,
                    tenant,
                    timer_type,
                    now,
                ),
            )
            first += count
        admin.execute("ANALYZE")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--sqs-ms", type=float, default=15.0, help="round trip of one SendMessageBatch call"
    )
    args = parser.parse_args()

    now = datetime.now(UTC)
    with scratch_database(DATABASE) as admin_url:
        started = time.monotonic()
        prepare(admin_url, args.timers, now)
        print(f"stored {args.timers} due timers in {time.monotonic() - started:.1f}s")
        os.environ |= {
            "DATABASE_URL": admin_url,
            "TIMERS_BATCH_SIZE": str(args.batch),
            "POWERTOOLS_METRICS_NAMESPACE": "Tether",
        }
        claims: list[float] = []
        claim_due = TimerRepository.claim_due

        def timed_claim(self: TimerRepository, *call: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return claim_due(self, *call, **kwargs)
            finally:
                claims.append((time.perf_counter() - began) * 1000)

        TimerRepository.claim_due = timed_claim  # type: ignore[method-assign]
        sqs = _LatentSqs(args.sqs_ms / 1000)
        os.environ["OUTBOUND_QUEUE_URL"] = (
            "https://sqs.us-east-1.amazonaws.com/123456789012/outbound"
        )
        # the function also hands due launches to LaunchQueue (none here: nothing is sent)
        os.environ["LAUNCH_QUEUE_URL"] = "https://sqs.us-east-1.amazonaws.com/123456789012/launch"
        from functions.timers import app
        from tether.aws.sqs import SqsQueue

        queue = SqsQueue(os.environ["OUTBOUND_QUEUE_URL"], sqs)  # type: ignore[arg-type]
        setattr(app, "queue_at", lambda url: queue)  # noqa: B010 (the getter the handler calls)
        event = {"time": now.isoformat(), "detail-type": "Scheduled Event", "source": "aws.events"}
        totals: dict[str, int] = {}
        invocations = 0
        began = time.perf_counter()
        while True:
            invocations += 1
            result = app.handler(event, _Context())
            for name, value in result.items():
                if name != "remaining":
                    totals[name] = totals.get(name, 0) + value
            if result["remaining"] == 0 or result["batches"] == 0:
                break
        elapsed = time.perf_counter() - began
        queued = len(sqs.bodies)
        with connect(admin_url) as admin:
            check = admin.execute(
                "SELECT count(*) FILTER (WHERE executed_at IS NULL AND cancelled_at IS NULL) AS open,"
                " count(*) FILTER (WHERE executed_at IS NOT NULL) AS fired,"
                " (SELECT count(*) FROM messages WHERE send_key LIKE 'timer:%%') AS texts,"
                " (SELECT count(*) FROM call_queue) AS calls FROM lead_timers"
            ).fetchone()
    assert check is not None
    cuts = statistics.quantiles(claims, n=100)
    handled = totals["fired"] + totals["cancelled"] + totals["failed"]
    figures = {
        "timers": args.timers,
        "batch": args.batch,
        "invocations": invocations,
        "fired": totals["fired"],
        "cancelled": totals["cancelled"],
        "failed": totals["failed"],
        "texts": check["texts"],
        "enqueued": totals["enqueued"],
        "queued_in_sqs": queued,
        "sqs_calls": sqs.calls,
        "sqs_round_trip_ms": args.sqs_ms,
        "calls_queued": check["calls"],
        "left_open": check["open"],
        "seconds": round(elapsed, 2),
        "timers_per_s": round(handled / elapsed, 1),
        "claim_p50_ms": round(cuts[49], 2),
        "claim_p99_ms": round(cuts[98], 2),
        "claims": len(claims),
    }
    print(
        f"{handled} timers in {elapsed:.1f}s over {invocations} invocation(s):"
        f" {figures['timers_per_s']} timers/s; claim p50 {figures['claim_p50_ms']} ms,"
        f" p99 {figures['claim_p99_ms']} ms over {len(claims)} claims;"
        f" {figures['fired']} fired, {figures['cancelled']} cancelled, {figures['failed']} failed;"
        f" {figures['texts']} texts stored, {queued} on the queue, {figures['calls_queued']} calls queued"
    )
    print(json.dumps(figures))
    return 0


class _LatentSqs:
    """SQS as the function's client sees it, with a round trip per call and nothing
    else: moto's in-process SQS recomputes its attributes over every stored message on
    each send, so with tens of thousands queued it would measure moto, not Tether."""

    def __init__(self, round_trip_seconds: float) -> None:
        self.round_trip = round_trip_seconds
        self.bodies: list[str] = []
        self.calls = 0
        self._lock = threading.Lock()

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        time.sleep(self.round_trip)
        with self._lock:
            self.calls += 1
            self.bodies.extend(entry["MessageBody"] for entry in Entries)
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}


class _Context:
    function_name = "tether-timers"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tether-timers"
    aws_request_id = "bench"

    def __init__(self) -> None:
        self._deadline = time.monotonic() + 60  # the template's Timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


if __name__ == "__main__":
    sys.exit(main())
