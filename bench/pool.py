"""Pool lease claims at scale, beside seed 001's own query, in one run.

Loads 100,000 numbers in 100 pools and 1,000,000 leads into a fresh database, then for
1, 8 and 32 concurrent claimers (separate processes, one connection each, like Lambda
containers) claims numbers for a fixed time:

- ``tether``: ``lease_number`` as the API calls it (tether_app role, row-level
  security, one unit of work per claim: the lease statement and its commit);
- ``seed``: seed 001's pool table, composite index and ``FOR UPDATE SKIP LOCKED``
  query, recording the lease in its three places (pool, lead, interactions) in one
  transaction, as the seed describes it.

Between runs every lease is released. Prints a table, the HOT-update ratio of
``phone_numbers``, and last a JSON line of the figures.

    .venv/bin/python bench/pool.py [--seconds 5] [--claimers 1,8,32]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tether.config import DatabaseSettings
from tether.db.connection import Connection, ReusedConnection, as_role, connect
from tether.db.embedded import create_database, drop_database, start_embedded
from tether.db.migrations import apply_pending
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import PoolExhausted
from tether.services.leases import lease_number

DATABASE = "tether_bench_pool"

SEED_SCHEMA = """
CREATE TABLE signalwire_phone_numbers (
  vapi_phone_number_id VARCHAR(100) PRIMARY KEY,
  number VARCHAR(20) NOT NULL,
  name VARCHAR(100) NOT NULL,
  assigned_broker_company VARCHAR(200),
  currently_assigned_to UUID REFERENCES leads(id),
  assigned_at TIMESTAMP,
  release_at TIMESTAMP,
  assignment_status VARCHAR(20) DEFAULT 'available',
  last_call_outcome VARCHAR(50),
  appointment_scheduled_at TIMESTAMP
);
CREATE INDEX idx_signalwire_pool_assignment
  ON signalwire_phone_numbers (assigned_broker_company, assignment_status, assigned_at);
CREATE TABLE interactions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  lead_id uuid NOT NULL,
  type text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
"""

# Seed 001: "WITH selected_number AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ..."
SEED_CLAIM = """
WITH selected_number AS (
  SELECT vapi_phone_number_id FROM signalwire_phone_numbers
  WHERE assigned_broker_company = %(pool)s AND assignment_status = 'available'
  ORDER BY assigned_at NULLS FIRST
  LIMIT 1
  FOR UPDATE SKIP LOCKED
)
UPDATE signalwire_phone_numbers s
SET currently_assigned_to = %(lead)s, assigned_at = NOW(), release_at = NOW() + INTERVAL '18 hours',
    assignment_status = 'assigned'
FROM selected_number
WHERE s.vapi_phone_number_id = selected_number.vapi_phone_number_id
RETURNING s.vapi_phone_number_id, s.number
"""


def server_url() -> str:
    settings = DatabaseSettings()
    return settings.database_url or start_embedded(settings.tether_data_dir, "postgres")


def with_database(url: str, name: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo("", **params)


def load(admin: Connection, numbers: int, pools: int, leads: int) -> uuid.UUID:
    started = time.monotonic()
    tenant = admin.execute("INSERT INTO tenants (name) VALUES ('bench') RETURNING id").fetchone()[
        "id"
    ]  # type: ignore[index]
    admin.execute(
        "INSERT INTO tenant_config (tenant_id, lease_cooldown_minutes) VALUES (%s, 0)", (tenant,)
    )
    account = admin.execute(
        "INSERT INTO provider_accounts (tenant_id, provider, name) VALUES (%s, 'sandbox', 'bench') RETURNING id",
        (tenant,),
    ).fetchone()["id"]  # type: ignore[index]
    admin.execute(
        "INSERT INTO phone_numbers (tenant_id, provider_account_id, e164, pool)"
        " SELECT %s, %s, '+1415' || lpad(g::text, 7, '0'), 'pool-' || (g %% %s)"
        " FROM generate_series(1, %s) AS g",
        (tenant, account, pools, numbers),
    )
    admin.execute(
        "INSERT INTO leads (tenant_id, phone) SELECT %s, '+1650' || lpad(g::text, 7, '0')"
        " FROM generate_series(1, %s) AS g",
        (tenant, leads),
    )
    admin.execute(SEED_SCHEMA.encode())
    admin.execute(
        "INSERT INTO signalwire_phone_numbers (vapi_phone_number_id, number, name, assigned_broker_company)"
        " SELECT 'vapi-' || g, '+1415' || lpad(g::text, 7, '0'), 'Number ' || g, 'pool-' || (g %% %s)"
        " FROM generate_series(1, %s) AS g",
        (pools, numbers),
    )
    admin.execute("VACUUM ANALYZE")
    print(
        f"loaded {numbers} numbers in {pools} pools and {leads} leads in {time.monotonic() - started:.1f}s"
    )
    return tenant  # type: ignore[no-any-return]


def reset(admin: Connection) -> None:
    """Release every lease of both designs (not measured)."""
    admin.execute(
        "UPDATE phone_numbers SET assignment_status = 'available', currently_assigned_to = NULL,"
        " assigned_at = NULL, release_at = NULL WHERE currently_assigned_to IS NOT NULL"
    )
    admin.execute(
        "UPDATE signalwire_phone_numbers SET assignment_status = 'available', currently_assigned_to = NULL,"
        " release_at = NULL WHERE currently_assigned_to IS NOT NULL"
    )
    admin.execute("VACUUM ANALYZE phone_numbers, signalwire_phone_numbers, leads")


def tether_claimer(app_url: str, tenant: uuid.UUID) -> Callable[[uuid.UUID, str], bool]:
    connection = ReusedConnection(app_url)

    def claim(lead: uuid.UUID, pool: str) -> bool:
        try:
            lease_number(UnitOfWork(connection, tenant), tenant, lead, pool, datetime.now(UTC))
        except PoolExhausted:
            return False
        return True

    return claim


def seed_claimer(admin_url: str) -> Callable[[uuid.UUID, str], bool]:
    conn = connect(admin_url)

    def claim(lead: uuid.UUID, pool: str) -> bool:
        row = conn.execute(SEED_CLAIM, {"pool": pool, "lead": lead}).fetchone()
        if row is not None:  # "tracked in 3 places": pool, lead, interactions
            # (the seed keeps the vapi id on the lead; this schema types it as a uuid
            # reference, so the bench writes the same row without it)
            conn.execute(
                "UPDATE leads SET assigned_phone_number_id = NULL, phone_assigned_at = now() WHERE id = %s",
                (lead,),
            )
            conn.execute(
                "INSERT INTO interactions (lead_id, type, metadata) VALUES (%s, 'number_assigned', %s::jsonb)",
                (
                    lead,
                    json.dumps(
                        {
                            "assigned_phone_number_id": row["vapi_phone_number_id"],
                            "assigned_phone_number": row["number"],
                        }
                    ),
                ),
            )
        conn.commit()
        return row is not None

    return claim


def worker(
    args: tuple[str, str, str, uuid.UUID, list[uuid.UUID], int, float, float, int],
) -> list[float]:
    design, admin_url, app_url, tenant, leads, pools, start_at, seconds, seed = args
    claim = tether_claimer(app_url, tenant) if design == "tether" else seed_claimer(admin_url)
    rng = random.Random(seed)
    latencies: list[float] = []
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline:
        lead = rng.choice(leads)
        pool = f"pool-{rng.randrange(pools)}"
        began = time.perf_counter()
        if claim(lead, pool):
            latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def run(
    design: str,
    claimers: int,
    seconds: float,
    admin_url: str,
    app_url: str,
    tenant: uuid.UUID,
    leads: list[uuid.UUID],
    pools: int,
) -> dict[str, float]:
    start_at = time.time() + 1.0  # every process connected and waiting
    jobs = [
        (design, admin_url, app_url, tenant, leads, pools, start_at, seconds, n)
        for n in range(claimers)
    ]
    with multiprocessing.get_context("fork").Pool(claimers) as processes:
        results = processes.map(worker, jobs)
    latencies = sorted(value for result in results for value in result)
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "claims_per_s": len(latencies) / seconds,
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
        "claims": len(latencies),
    }


def hot_ratio(admin: Connection) -> float:
    time.sleep(1.0)  # let the backends' statistics reach the shared counters
    row = admin.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'phone_numbers'"
    ).fetchone()
    assert row is not None
    return row["n_tup_hot_upd"] / row["n_tup_upd"] if row["n_tup_upd"] else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=100)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--claimers", default="1,8,32")
    args = parser.parse_args()

    server = server_url()
    drop_database(server, DATABASE)
    create_database(server, DATABASE)
    admin_url = with_database(server, DATABASE)
    apply_pending(conninfo=admin_url)
    app_url = as_role(admin_url, "tether_app")
    figures: dict[str, float] = {}
    try:
        with connect(admin_url, autocommit=True) as admin:
            tenant = load(admin, args.numbers, args.pools, args.leads)
            sample = admin.execute("SELECT id FROM leads ORDER BY random() LIMIT 20000").fetchall()
            leads = [row["id"] for row in sample]
            admin.execute("SELECT pg_stat_reset()")
            print(f"{'design':8} {'claimers':>8} {'claims/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
            for claimers in (int(n) for n in args.claimers.split(",")):
                for design in ("tether", "seed"):
                    reset(admin)
                    result = run(
                        design,
                        claimers,
                        args.seconds,
                        admin_url,
                        app_url,
                        tenant,
                        leads,
                        args.pools,
                    )
                    print(
                        f"{design:8} {claimers:>8} {result['claims_per_s']:>10.0f}"
                        f" {result['p50_ms']:>8.3f} {result['p99_ms']:>8.3f}"
                    )
                    for name in ("claims_per_s", "p50_ms", "p99_ms"):
                        figures[f"{design}_{claimers}_{name}"] = round(result[name], 3)
            figures["phone_numbers_hot_update_ratio"] = round(hot_ratio(admin), 3)
            print(
                f"HOT-update ratio of phone_numbers: {figures['phone_numbers_hot_update_ratio']:.3f}"
            )
    finally:
        drop_database(server, DATABASE)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
