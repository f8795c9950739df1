"""Inbound matching at scale, beside seed 000's matching algorithm, in one run.

Loads 1,000,000 leads in 1,000 campaigns (one sending number each, every lead bound to
its campaign's number) and times, for the same senders:

- ``tether``: ``InboundRepository.match`` as the tenant's role, under row-level security;
- ``seed``: seed 000's three steps (assignment by the receiving number, lead by phone in
  that campaign, then ``LIKE '%…%'`` over every lead), on the same tables.

Both for a reply from a lead of the number's campaign (the normal path) and from a lead
of another campaign (the fallback), SMS (the number's SMS assignment and bindings).
Each is timed ``--runs`` times, tether and the seed alternated; the figures are the
medians of the runs' percentiles. Then the whole inbound transaction: a reply
handled as the inbound function does (stored, matched, classified, the lead moved,
timers cancelled, the bell, the insight, the answer queued), committed each time.

    make bench-inbound [ARGS="--leads 1000000 --campaigns 1000"]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from tether.db.connection import FreshConnections, as_role, connect
from tether.db.unit_of_work import UnitOfWork
from tether.domain.events import InboundMessage
from tether.services.replies import handle_reply
from tether_dev.scratch import scratch_database

DATABASE = "tether_bench_inbound"
REPLIES = [
    "Thanks",
    "What is this about?",
    "my email is ana@example.com",
    "not interested",
    "yes, call me",
]

SEED_ASSIGNMENT = (
    "SELECT id, campaign_id FROM campaign_phone_assignments WHERE phone_number = %s LIMIT 1"
)
SEED_LEAD = "SELECT id FROM leads WHERE phone = %s AND campaign_id = %s LIMIT 1"
SEED_FALLBACK = "SELECT id FROM leads WHERE phone LIKE %s LIMIT 1"


def load(admin_url: str, leads: int, campaigns: int, spare_numbers: int) -> uuid.UUID:
    started = time.monotonic()
    with connect(admin_url, autocommit=True) as admin:
        tenant = admin.execute(
            "INSERT INTO tenants (name) VALUES ('bench') RETURNING id"
        ).fetchone()["id"]  # type: ignore[index]
        admin.execute("INSERT INTO tenant_config (tenant_id) VALUES (%s)", (tenant,))
        account = admin.execute(
            "INSERT INTO provider_accounts (tenant_id, provider, name) VALUES (%s, 'sandbox', 'bench') RETURNING id",
            (tenant,),
        ).fetchone()["id"]  # type: ignore[index]
        admin.execute(
            "INSERT INTO campaigns (tenant_id, name, pool, status) SELECT %s, 'campaign ' || g, 'pool', 'active'"
            " FROM generate_series(1, %s) g",
            (tenant, campaigns),
        )
        # one number per campaign, and one spare for each reply that asks for a call
        # (it leases a number of the pool): none runs out, whatever the sizes
        admin.execute(
            "INSERT INTO phone_numbers (tenant_id, provider_account_id, e164, pool)"
            " SELECT %s, %s, '+1415' || lpad(g::text, 7, '0'), 'pool' FROM generate_series(1, %s) g",
            (tenant, account, campaigns + spare_numbers),
        )
        admin.execute(
            "INSERT INTO campaign_phone_assignments (tenant_id, campaign_id, phone_number_id, phone_number)"
            " SELECT %s, c.id, p.id, p.e164"
            " FROM (SELECT id, row_number() OVER (ORDER BY name) AS n FROM campaigns WHERE tenant_id = %s) c"
            " JOIN (SELECT id, e164, row_number() OVER (ORDER BY e164) AS n FROM phone_numbers WHERE tenant_id = %s) p"
            " USING (n)",
            (tenant, tenant, tenant),
        )
        admin.execute(
            "INSERT INTO leads (tenant_id, campaign_id, phone, last_message_at)"
            " SELECT %s, a.campaign_id, '+1650' || lpad(g::text, 7, '0'), now() - g * interval '1 second'"
            " FROM generate_series(1, %s) g"
            " JOIN (SELECT campaign_id, row_number() OVER (ORDER BY phone_number) - 1 AS n"
            "       FROM campaign_phone_assignments WHERE tenant_id = %s) a ON a.n = g %% %s",
            (tenant, leads, tenant, campaigns),
        )
        admin.execute(
            "INSERT INTO lead_sender_bindings (tenant_id, lead_id, campaign_id, campaign_phone_assignment_id,"
            " phone_number_id, phone_number)"
            " SELECT l.tenant_id, l.id, l.campaign_id, a.id, a.phone_number_id, a.phone_number"
            " FROM leads l JOIN campaign_phone_assignments a ON a.campaign_id = l.campaign_id WHERE l.tenant_id = %s",
            (tenant,),
        )
        admin.execute("VACUUM ANALYZE")
    print(f"loaded {leads} leads in {campaigns} campaigns in {time.monotonic() - started:.1f}s")
    return tenant  # type: ignore[no-any-return]


class _Single:
    """One connection for every unit of work, as a Lambda container keeps it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def acquire(self) -> Any:
        return self.conn

    def release(self, conn: Any) -> None:
        pass


def timed(calls: list[Callable[[], object]]) -> dict[str, float]:
    latencies = []
    for call in calls:
        began = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": round(cuts[49], 4), "p99_ms": round(cuts[98], 4)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed-fallback-samples", type=int, default=40)
    parser.add_argument("--reply-samples", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with scratch_database(DATABASE) as admin_url:
        tenant = load(admin_url, args.leads, args.campaigns, args.reply_samples)
        with connect(admin_url, autocommit=True) as admin:
            rows = admin.execute(
                "SELECT l.phone, a.phone_number AS own_number,"
                " (SELECT phone_number FROM campaign_phone_assignments o WHERE o.campaign_id <> l.campaign_id"
                "  ORDER BY o.id LIMIT 1) AS other_number"
                " FROM leads l JOIN campaign_phone_assignments a ON a.campaign_id = l.campaign_id"
                " ORDER BY random() LIMIT %s",
                (args.samples,),
            ).fetchall()
        rng = random.Random(7)
        own = [(r["own_number"], r["phone"]) for r in rows]
        other = [(r["other_number"], r["phone"]) for r in rows]
        rng.shuffle(other)

        with (
            UnitOfWork(FreshConnections(as_role(admin_url, "tether_app")), tenant) as uow,
            connect(admin_url, autocommit=True) as seed,
        ):
            uow.leads.match(tenant, *own[0], "sms")  # the first statement scopes the transaction

            def seed_match(to: str, sender: str) -> object:
                assignment = seed.execute(SEED_ASSIGNMENT, (to,)).fetchone()
                campaign = assignment["campaign_id"] if assignment else None
                lead = seed.execute(SEED_LEAD, (sender, campaign)).fetchone()
                return lead or seed.execute(SEED_FALLBACK, (f"%{sender}%",)).fetchone()

            runs: dict[str, list[dict[str, float]]] = {
                "normal": [], "fallback": [], "seed_normal": [], "seed_fallback": []
            }  # fmt: skip
            for _ in range(args.runs):
                runs["normal"].append(
                    timed(
                        [partial(uow.leads.match, tenant, to, sender, "sms") for to, sender in own]
                    )
                )
                runs["seed_normal"].append(
                    timed([partial(seed_match, to, sender) for to, sender in own])
                )
                runs["fallback"].append(
                    timed(
                        [
                            partial(uow.leads.match, tenant, to, sender, "sms")
                            for to, sender in other
                        ]
                    )
                )
                runs["seed_fallback"].append(
                    timed(
                        [
                            partial(seed_match, to, sender)
                            for to, sender in other[: args.seed_fallback_samples]
                        ]
                    )
                )
        ours_normal, ours_fallback, seed_normal, seed_fallback = (
            {
                key: round(statistics.median(r[key] for r in runs[name]), 4)
                for key in ("p50_ms", "p99_ms")
            }
            for name in ("normal", "fallback", "seed_normal", "seed_fallback")
        )
        replies = [
            InboundMessage(
                provider="sandbox",
                external_id=f"SM{uuid.uuid4().hex}",
                from_address=sender,
                to_address=to,
                body=rng.choice(REPLIES),
                occurred_at=datetime.now(UTC),
            )
            for to, sender in own[: args.reply_samples]
        ]

        with connect(as_role(admin_url, "tether_app")) as conn:
            source = _Single(conn)

            def handle(event: InboundMessage) -> object:
                uow = UnitOfWork(source, tenant)
                return handle_reply(uow, tenant, event, uuid.uuid4(), datetime.now(UTC))

            whole = timed([partial(handle, event) for event in replies])

    for name, result in [
        ("whole_inbound_transaction", whole),
        ("tether_normal", ours_normal),
        ("tether_fallback", ours_fallback),
        ("seed_normal", seed_normal),
        ("seed_fallback", seed_fallback),
    ]:
        for key, value in result.items():
            figures[f"{name}_{key}"] = value
    figures["fallback_speedup_p50"] = round(seed_fallback["p50_ms"] / ours_fallback["p50_ms"], 1)
    figures["fallback_speedup_p99"] = round(seed_fallback["p99_ms"] / ours_fallback["p99_ms"], 1)
    print(f"{'match':22} {'p50 ms':>10} {'p99 ms':>10}")
    for name, result in [
        ("tether, normal path", ours_normal),
        ("tether, fallback", ours_fallback),
        ("seed 000, normal path", seed_normal),
        ("seed 000, LIKE fallback", seed_fallback),
        ("whole inbound txn", whole),
    ]:
        print(f"{name:22} {result['p50_ms']:>10.3f} {result['p99_ms']:>10.3f}")
    print(
        f"fallback: tether is {figures['fallback_speedup_p50']}x faster at p50, {figures['fallback_speedup_p99']}x at p99"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
