"""Results at 1,000,000 messages: the two stats reads as the API runs them, from the
rollup the database keeps with the messages (migration 0026), after the sweeper's fold.

Loads, into a fresh database, one tenant with 8 campaigns of 5 numbers each (40
numbers), 800,000 leads, their first texts (variants A, B and none by thirds; 85%
delivered, 5% sent, 5% undelivered as filtered, 3% refused as invalid numbers, 2% still
queued), 100,000 follow-ups and 100,000 replies (one in ten of them an opt-out): 1,000,000
messages, bulk-inserted with INSERT ... SELECT generate_series, then VACUUM ANALYZE as
autovacuum would. Then times `campaign_results` (100,000 first texts each) and
`number_results` (20,000 each) through a tenant's unit of work (tether_app role,
row-level security), each call its own transaction, round-robin over the campaigns and
numbers. Prints p50/p99 per route and last a JSON line of the figures.

    make bench-stats [ARGS="--calls 200 --leads 800000"]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

from tether.db.connection import ReusedConnection, as_role, connect
from tether.db.unit_of_work import UnitOfWork
from tether.services.stats import campaign_results, number_results
from tether_dev.scratch import scratch_database

DATABASE = "tether_bench_stats"
CAMPAIGNS = 8
NUMBERS_PER_CAMPAIGN = 5


def load(admin_url: str, leads: int) -> tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]:
    """The tenant, its campaigns and its numbers, with `leads` leads and their messages."""
    with connect(admin_url, autocommit=True) as admin:
        tenant = admin.execute(
            "INSERT INTO tenants (name) VALUES ('bench') RETURNING id"
        ).fetchone()["id"]  # type: ignore[index]
        admin.execute("INSERT INTO tenant_config (tenant_id) VALUES (%s)", (tenant,))
        account = admin.execute(
            "INSERT INTO provider_accounts (tenant_id, provider, name)"
            " VALUES (%s, 'sandbox', 'bench') RETURNING id",
            (tenant,),
        ).fetchone()["id"]  # type: ignore[index]
        campaigns, numbers = [], []
        for c in range(CAMPAIGNS):
            campaign = admin.execute(
                "INSERT INTO campaigns (tenant_id, name, pool, status)"
                " VALUES (%s, %s, 'pool', 'active') RETURNING id",
                (tenant, f"campaign {c}"),
            ).fetchone()["id"]  # type: ignore[index]
            campaigns.append(campaign)
            for n in range(NUMBERS_PER_CAMPAIGN):
                e164 = f"+1415555{c * NUMBERS_PER_CAMPAIGN + n:04d}"
                number = admin.execute(
                    "INSERT INTO phone_numbers (tenant_id, provider_account_id, e164, pool)"
                    " VALUES (%s, %s, %s, 'pool') RETURNING id",
                    (tenant, account, e164),
                ).fetchone()["id"]  # type: ignore[index]
                numbers.append(number)
                admin.execute(
                    "INSERT INTO campaign_phone_assignments"
                    " (tenant_id, campaign_id, phone_number, phone_number_id, is_primary)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (tenant, campaign, e164, number, n == 0),
                )
        started = time.monotonic()
        # lead i: campaign i % 8, number (i / 8) % 5 of it, variant by i % 3
        admin.execute(
            "CREATE TEMP TABLE plan AS"
            " SELECT i, (array_agg_c)[1 + i %% %(c)s] AS campaign_id"
            " FROM generate_series(0, %(leads)s - 1) AS i,"
            " (SELECT array_agg(id ORDER BY created_at, id) AS array_agg_c FROM campaigns"
            "  WHERE tenant_id = %(t)s) c",
            {"c": CAMPAIGNS, "leads": leads, "t": tenant},
        )
        admin.execute(
            "ALTER TABLE plan ADD COLUMN lead_id uuid DEFAULT gen_random_uuid(),"
            " ADD COLUMN phone text, ADD COLUMN assignment_id uuid, ADD COLUMN number_id uuid,"
            " ADD COLUMN our text"
        )
        admin.execute(
            "UPDATE plan p SET phone = '+1212' || lpad(p.i::text, 7, '0'),"
            " assignment_id = a.id, number_id = a.phone_number_id, our = a.phone_number"
            " FROM (SELECT id, campaign_id, phone_number_id, phone_number,"
            "       row_number() OVER (PARTITION BY campaign_id ORDER BY phone_number) - 1 AS k"
            "       FROM campaign_phone_assignments) a"
            " WHERE a.campaign_id = p.campaign_id AND a.k = (p.i / %(c)s) %% %(n)s",
            {"c": CAMPAIGNS, "n": NUMBERS_PER_CAMPAIGN},
        )
        admin.execute(
            "INSERT INTO leads (id, tenant_id, campaign_id, phone)"
            " SELECT lead_id, %s, campaign_id, phone FROM plan",
            (tenant,),
        )
        at = "timestamptz '2026-11-01 15:00+00' + (p.i %% 86400) * interval '1 second'"
        outcome = "(p.i::bigint * 7919) %% 100"
        admin.execute(
            "INSERT INTO messages (tenant_id, direction, lead_id, campaign_id, from_address,"
            " to_address, outbound_number_id, campaign_phone_assignment_id, send_key, template,"
            " body, status, error_code, external_id, provider, sent_at, variant, created_at)"
            " SELECT %(t)s, 'outbound', p.lead_id, p.campaign_id, p.our, p.phone, p.number_id,"
            " p.assignment_id, 'first:' || p.i, 'launch', 'Hi',"
            f" CASE WHEN {outcome} < 85 THEN 'delivered' WHEN {outcome} < 90 THEN 'sent'"
            f"  WHEN {outcome} < 95 THEN 'undelivered' WHEN {outcome} < 98 THEN 'failed'"
            "  ELSE 'queued' END,"
            f" CASE WHEN {outcome} BETWEEN 90 AND 94 THEN 'filtered'"
            f"  WHEN {outcome} BETWEEN 95 AND 97 THEN 'invalid_number' END,"
            f" CASE WHEN {outcome} < 95 THEN 'SM' || p.i END,"
            f" CASE WHEN {outcome} < 95 THEN 'sandbox' END,"
            f" CASE WHEN {outcome} < 95 THEN {at} END,"
            " (ARRAY['A', 'B', NULL])[1 + p.i %% 3],"
            f" {at}"
            " FROM plan p",
            {"t": tenant},
        )
        # a follow-up for one lead in eight, three days later
        admin.execute(
            "INSERT INTO messages (tenant_id, direction, lead_id, campaign_id, from_address,"
            " to_address, outbound_number_id, campaign_phone_assignment_id, send_key, template,"
            " body, status, external_id, provider, sent_at, variant, created_at)"
            " SELECT %(t)s, 'outbound', p.lead_id, p.campaign_id, p.our, p.phone, p.number_id,"
            " p.assignment_id, 'follow:' || p.i, 'follow_up', 'Still there?', 'delivered',"
            " 'SF' || p.i, 'sandbox', "
            f" {at} + interval '3 days', (ARRAY['A', 'B', NULL])[1 + p.i %% 3],"
            f" {at} + interval '3 days'"
            f" FROM plan p WHERE (p.i / 8) %% 8 = 1 AND {outcome} < 95",
            {"t": tenant},
        )
        # a reply from one lead in eight, minutes to hours after the first text
        admin.execute(
            "INSERT INTO messages (tenant_id, direction, lead_id, campaign_id, from_address,"
            " to_address, outbound_number_id, campaign_phone_assignment_id, body, status,"
            " external_id, provider, received_at, created_at)"
            " SELECT %(t)s, 'inbound', p.lead_id, p.campaign_id, p.phone, p.our, p.number_id,"
            " p.assignment_id, CASE WHEN (p.i / 8) %% 80 = 0 THEN 'STOP' ELSE 'yes' END,"
            " 'received',"
            " 'SR' || p.i, 'sandbox',"
            f" {at} + (60 + (p.i * 31) %% 7200) * interval '1 second',"
            f" {at} + (60 + (p.i * 31) %% 7200) * interval '1 second'"
            f" FROM plan p WHERE (p.i / 8) %% 8 = 0 AND {outcome} < 95",
            {"t": tenant},
        )
        admin.execute(
            "INSERT INTO suppressions (tenant_id, phone, reason, keyword, source_message_id)"
            " SELECT tenant_id, from_address, 'opt_out', 'STOP', id FROM messages"
            " WHERE direction = 'inbound' AND body = 'STOP'"
        )
        count = admin.execute("SELECT count(*) AS n FROM messages").fetchone()["n"]  # type: ignore[index]
        print(f"loaded {count:,} messages in {time.monotonic() - started:.1f}s", file=sys.stderr)
        # the sweeper's fold, as a minute after the load (a second run: the deltas a
        # minute of sends leaves, read beside the counts)
        folded = admin.execute("SELECT compact_result_deltas(100000000) AS n").fetchone()["n"]  # type: ignore[index]
        print(f"folded {folded:,} result deltas", file=sys.stderr)
        admin.execute("VACUUM ANALYZE messages")
        admin.execute("VACUUM ANALYZE suppressions")
        admin.execute("VACUUM ANALYZE leads")
        for table in ("result_counts", "result_deltas", "result_replies"):
            admin.execute(f"VACUUM ANALYZE {table}")
    return tenant, campaigns, numbers


def loaded(admin_url: str) -> tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]:
    """The tenant, campaigns and numbers of a database loaded before."""
    with connect(admin_url) as admin:
        tenant = admin.execute("SELECT id FROM tenants WHERE name = 'bench'").fetchone()["id"]  # type: ignore[index]
        campaigns = [
            r["id"] for r in admin.execute("SELECT id FROM campaigns ORDER BY created_at, id")
        ]
        numbers = [r["id"] for r in admin.execute("SELECT id FROM phone_numbers ORDER BY e164")]
    return tenant, campaigns, numbers


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200, help="timed calls per route")
    parser.add_argument("--leads", type=int, default=800_000)
    parser.add_argument("--loaded", help="the URL of a database a --pause-while run loaded")
    parser.add_argument(
        "--pause-while", help="after loading, wait while this file exists (to query it by hand)"
    )
    args = parser.parse_args()
    with nullcontext(args.loaded) if args.loaded else scratch_database(DATABASE) as admin_url:
        if args.loaded:
            tenant, campaigns, numbers = loaded(admin_url)
        else:
            tenant, campaigns, numbers = load(admin_url, args.leads)
        with connect(admin_url) as admin:
            total = admin.execute("SELECT count(*) AS n FROM messages").fetchone()["n"]  # type: ignore[index]
        app = ReusedConnection(as_role(admin_url, "tether_app"))

        def app_uow() -> UnitOfWork:
            return UnitOfWork(app, tenant)

        timings: dict[str, list[float]] = {"campaign": [], "number": []}
        for warm in range(3):  # the caches a running container has
            campaign_results(app_uow(), campaigns[warm])
            number_results(app_uow(), numbers[warm])
        check = campaign_results(app_uow(), campaigns[0])
        if args.pause_while:
            print(f"loaded: {admin_url}", file=sys.stderr, flush=True)
            while Path(args.pause_while).exists():
                time.sleep(1)
        for call in range(args.calls):
            began = time.perf_counter()
            campaign_results(app_uow(), campaigns[call % len(campaigns)])
            timings["campaign"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            number_results(app_uow(), numbers[call % len(numbers)])
            timings["number"].append((time.perf_counter() - began) * 1000)
    figures: dict[str, object] = {"messages": total, "calls": args.calls}
    for route, values in timings.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(
            f"{route:>8} stats: p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {max(values):7.1f} ms"
        )
        figures[f"{route}_p50_ms"] = round(p50, 1)
        figures[f"{route}_p99_ms"] = round(p99, 1)
    overall = check.overall
    print(
        f"campaign 0: {overall.requested:,} sends, {overall.delivered:,} delivered,"
        f" {overall.contacts:,} contacts, {overall.replies:,} replies, {overall.opt_outs:,}"
        f" opt-outs, median reply {overall.median_seconds_to_first_reply}s",
        file=sys.stderr,
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
