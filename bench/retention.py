"""The retention purge's rate: how many rows a run clears per second.

Loads N webhook receipts (a Twilio-sized form body each), N inbound messages with
their bells, and N stored idempotent responses, all past their tenant's windows, with
as many again inside them, then runs the purge as the sweeper does (jobs role, batches
of `--batch` rows, a transaction each) until nothing is left, and reports the rows
purged per kind and the rows/s overall; last, a JSON line. Afterwards it checks that
nothing past its window holds its words and nothing inside it was touched.

    make bench-retention [ARGS="--rows 100000 --batch 500"]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from tether.db.connection import FreshConnections, as_role, connect
from tether.db.unit_of_work import UnitOfWork
from tether.services.retention import purge_expired
from tether_dev.scratch import scratch_database

DATABASE = "tether_bench_retention"
BODY = "ToCountry=US&ToState=CA&SmsMessageSid=SM{sid}&NumMedia=0&Body={words}&From=%2B1650{n:07d}"


def load(admin_url: str, rows: int, now: datetime) -> uuid.UUID:
    started = time.monotonic()
    with connect(admin_url, autocommit=True) as admin:
        tenant = admin.execute(
            "INSERT INTO tenants (name) VALUES ('bench') RETURNING id"
        ).fetchone()["id"]  # type: ignore[index]
        admin.execute("INSERT INTO tenant_config (tenant_id) VALUES (%s)", (tenant,))
        account = admin.execute(
            "INSERT INTO provider_accounts (tenant_id, provider, name)"
            " VALUES (%s, 'sandbox', 'main') RETURNING id",
            (tenant,),
        ).fetchone()["id"]  # type: ignore[index]
        thread = admin.execute(
            "INSERT INTO threads (tenant_id, our_address, their_address)"
            " VALUES (%s, '+16505550100', '+16505550199') RETURNING id",
            (tenant,),
        ).fetchone()["id"]  # type: ignore[index]
        # half past every window (400 days old), half inside them (1 day old)
        params = {"t": tenant, "a": account, "th": thread, "n": rows, "now": now, "body": BODY}
        admin.execute(
            "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider, idempotency_key,"
            " event_type, raw_body, headers, event, received_at, processed_at)"
            " SELECT %(t)s, %(a)s, 'sandbox', 'bench:' || g, 'inbound_message',"
            "  replace(replace(replace(%(body)s, '{sid}', g::text), '{words}', md5(g::text)),"
            "          '{n:07d}', lpad(g::text, 7, '0')),"
            "  '{\"X-Twilio-Signature\": \"x\"}', jsonb_build_object('body', md5(g::text)),"
            "  %(now)s - CASE WHEN g %% 2 = 0 THEN interval '400 days' ELSE interval '1 day' END,"
            "  %(now)s FROM generate_series(1, 2 * %(n)s) g",
            params,
        )
        admin.execute(
            "INSERT INTO messages (tenant_id, direction, thread_id, from_address, to_address, body,"
            " status, received_at, created_at)"
            " SELECT %(t)s, 'inbound', %(th)s, '+16505550199', '+16505550100', md5(g::text),"
            "  'received', c, c FROM generate_series(1, 2 * %(n)s) g,"
            "  LATERAL (SELECT %(now)s - CASE WHEN g %% 2 = 0 THEN interval '400 days'"
            "                                 ELSE interval '1 day' END AS c) at",
            params,
        )
        admin.execute(
            "INSERT INTO notifications (tenant_id, workspace_stage, kind, title, body, created_at)"
            " SELECT %(t)s, 'initial_message', 'reply', 'Reply', md5(g::text),"
            "  %(now)s - CASE WHEN g %% 2 = 0 THEN interval '400 days' ELSE interval '1 day' END"
            " FROM generate_series(1, 2 * %(n)s) g",
            params,
        )
        admin.execute(
            "INSERT INTO api_idempotency (tenant_id, idempotency_key, request_hash, status_code,"
            " response, created_at, completed_at)"
            " SELECT %(t)s, 'bench-' || g, 'h', 200, jsonb_build_object('id', g), c, c"
            " FROM generate_series(1, 2 * %(n)s) g,"
            "  LATERAL (SELECT %(now)s - CASE WHEN g %% 2 = 0 THEN interval '400 days'"
            "                                 ELSE interval '1 day' END AS c) at",
            params,
        )
        admin.execute("ANALYZE")
    print(
        f"loaded {rows:,} due and {rows:,} kept of each kind in {time.monotonic() - started:.1f}s"
    )
    return tenant  # type: ignore[no-any-return]


def check(admin_url: str, rows: int, now: datetime) -> dict[str, int]:
    with connect(admin_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT"
            " (SELECT count(*) FROM webhook_receipts WHERE raw_body <> '' AND received_at < %(w)s) AS receipts_due,"
            " (SELECT count(*) FROM webhook_receipts WHERE raw_body <> '') AS receipts_kept,"
            " (SELECT count(*) FROM messages WHERE body <> '' AND created_at < %(b)s) AS bodies_due,"
            " (SELECT count(*) FROM messages WHERE body <> '') AS bodies_kept,"
            " (SELECT count(*) FROM api_idempotency WHERE created_at < %(i)s) AS idempotency_due,"
            " (SELECT count(*) FROM api_idempotency) AS idempotency_kept",
            {
                "w": now - timedelta(days=30),
                "b": now - timedelta(days=365),
                "i": now - timedelta(days=7),
            },
        ).fetchone()
    assert row is not None
    found = dict(row)
    expected = {
        "receipts_due": 0,
        "receipts_kept": rows,
        "bodies_due": 0,
        "bodies_kept": rows,
        "idempotency_due": 0,
        "idempotency_kept": rows,
    }
    if found != expected:
        raise SystemExit(f"purge left the wrong rows: {found} != {expected}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows past the window, per kind")
    parser.add_argument("--batch", type=int, default=500, help="rows per batch (the sweeper's)")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with scratch_database(DATABASE) as admin_url:
        load(admin_url, args.rows, now)
        jobs = FreshConnections(as_role(admin_url, "tether_jobs"))
        totals: dict[str, int] = {}
        runs = 0
        started = time.monotonic()
        while True:
            report = purge_expired(UnitOfWork(jobs), now, args.batch, max_batches=10)
            runs += 1
            for kind, count in report.purged.items():
                totals[kind] = totals.get(kind, 0) + count
            if not sum(report.purged.values()):
                break
        seconds = time.monotonic() - started
        check(admin_url, args.rows, now)
        total = sum(totals.values())
        figures = {
            "rows_per_kind": args.rows,
            "batch": args.batch,
            "runs": runs,
            "purged": totals,
            "seconds": round(seconds, 2),
            "rows_per_second": round(total / seconds, 1),
        }
    print(
        f"purged {total:,} rows in {seconds:.2f}s over {runs} run(s) of up to 10 batches of"
        f" {args.batch}: {figures['rows_per_second']:,} rows/s; nothing past a window left,"
        " nothing inside one touched"
    )
    for kind, count in totals.items():
        print(f"  {kind:<22} {count:>10,}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
