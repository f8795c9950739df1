"""Pool lease claims at scale, beside seed 001's own query, in one run.

Loads 100,000 numbers in 100 pools and 1,000,000 leads into a fresh database, then for
1, 8 and 32 concurrent claimers (separate processes, one connection each, like Lambda
containers) claims numbers for a fixed time:

- ``tether``: ``lease_number`` as the API calls it (tether_app role, row-level
  security, one unit of work per claim: ``claim_lease`` sent alone, so the server
  commits it as it ends: one round trip);
- ``seed``: seed 001's pool table, composite index and ``FOR UPDATE SKIP LOCKED``
  query, recording the lease in its three places (pool, lead, interactions) in one
  transaction, as the seed describes it.

Between runs every lease is released. Each setting runs ``--runs`` times, the two
designs alternated, and the figures are the medians; meanwhile the server's wait events
are sampled (pg_stat_activity every 5 ms). Then, with one claimer, where a claim's time
goes (p50 and p99): the whole use case, the bare statement (the difference is the
client), the statement with synchronous_commit off (the difference is the wait for
the WAL flush, measured on this one connection only), the server's own execution time
(EXPLAIN ANALYZE, rolled back), an empty round trip, and a one-row INSERT committed (the
floor of any durable write). Then what one claim costs, one claimer: its server process's
CPU (from /proc, when the server runs here), the client's, and the WAL it writes, for
the seed, the use case, the statement, and copies of claim_lease without each part of
its bookkeeping (lead event, outbox event, the lead's copy of its number). Last, the HOT updates of
``phone_numbers`` and ``leads`` during the delivery counting a send does on its number
(first, on the inventory as loaded) and during the claims. Prints a table, and last a JSON line of the figures.

    .venv/bin/python bench/pool.py [--seconds 5] [--claimers 1,8,32] [--runs 3]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import multiprocessing
import random
import re
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench import procs
from tether.config import DatabaseSettings
from tether.db.connection import Connection, ReusedConnection, as_role, connect
from tether.db.embedded import create_database, drop_database, start_embedded
from tether.db.migrations import apply_pending
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import PoolExhausted
from tether.observability import logger
from tether.services.leases import lease_number

BREAKDOWN_SAMPLES = 1500

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
    admin.execute("CREATE TABLE bench_floor (id bigserial PRIMARY KEY)")
    admin.execute("GRANT INSERT ON bench_floor TO tether_app")
    admin.execute("GRANT USAGE ON SEQUENCE bench_floor_id_seq TO tether_app")
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


def tether_claimer(
    connection: ReusedConnection, tenant: uuid.UUID
) -> Callable[[uuid.UUID, str], bool]:
    def claim(lead: uuid.UUID, pool: str) -> bool:
        try:
            lease_number(UnitOfWork(connection, tenant), tenant, lead, pool, datetime.now(UTC))
        except PoolExhausted:
            return False
        return True

    return claim


def seed_claimer(conn: Connection) -> Callable[[uuid.UUID, str], bool]:
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
    claim = (
        tether_claimer(ReusedConnection(app_url), tenant)
        if design == "tether"
        else seed_claimer(connect(admin_url))
    )
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


WAITS_SQL = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'running') AS wait, count(*) AS n
FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
GROUP BY 1
"""


@contextlib.contextmanager
def sampling_waits(admin_url: str) -> Iterator[collections.Counter[str]]:
    """What the bench database's active server processes are doing, sampled every 5 ms
    until the block ends: a wait event, or `running` (on a CPU, or waiting for one)."""
    waits: collections.Counter[str] = collections.Counter()
    done = threading.Event()

    def sample() -> None:
        with connect(admin_url, autocommit=True) as conn:
            while not done.wait(0.005):
                for row in conn.execute(WAITS_SQL).fetchall():
                    waits[row["wait"]] += row["n"]

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield waits
    finally:
        done.set()
        sampler.join()


def run(
    design: str,
    claimers: int,
    seconds: float,
    admin_url: str,
    app_url: str,
    tenant: uuid.UUID,
    leads: list[uuid.UUID],
    pools: int,
) -> tuple[dict[str, float], collections.Counter[str]]:
    """The claims' rate and latency, and the server's wait events sampled meanwhile."""
    start_at = time.time() + 1.0  # every process connected and waiting
    jobs = [
        (design, admin_url, app_url, tenant, leads, pools, start_at, seconds, n)
        for n in range(claimers)
    ]
    with (
        multiprocessing.get_context("fork").Pool(claimers) as processes,
        sampling_waits(admin_url) as waits,
    ):
        results = processes.map(worker, jobs)
    latencies = sorted(value for result in results for value in result)
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "claims_per_s": len(latencies) / seconds,
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
        "claims": len(latencies),
    }, waits


def hot_counts(admin: Connection) -> dict[str, tuple[int, int]]:
    """(updates, HOT updates) so far of phone_numbers and leads."""
    time.sleep(1.0)  # let the backends' statistics reach the shared counters
    admin.execute("SELECT pg_stat_clear_snapshot()")
    rows = admin.execute(
        "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
        " WHERE relname IN ('phone_numbers', 'leads')"
    ).fetchall()
    return {row["relname"]: (row["n_tup_upd"], row["n_tup_hot_upd"]) for row in rows}


def hot_delta(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], table: str
) -> tuple[int, int, float]:
    updates = after[table][0] - before[table][0]
    hot = after[table][1] - before[table][1]
    return updates, hot, hot / updates if updates else 0.0


def p50(values: list[float]) -> float:
    return statistics.median(values)


def breakdown(
    admin_url: str, app_url: str, tenant: uuid.UUID, leads: list[uuid.UUID], pools: int
) -> dict[str, tuple[float, float]]:
    """Where one claimer's claim spends its time: (p50, p99) of interleaved samples, ms."""
    rng = random.Random(11)
    use_case = ReusedConnection(app_url)
    bare = connect(app_url, autocommit=True)
    lazy = connect(app_url, autocommit=True)
    lazy.execute("SET synchronous_commit = off")  # this connection only: the measurement
    explain = connect(app_url)
    claim = "SELECT * FROM claim_lease(%s, %s, %s, %s)"
    times: dict[str, list[float]] = {
        "use_case": [],
        "statement": [],
        "statement_no_flush_wait": [],
        "server_execution": [],
        "round_trip": [],
        "durable_insert": [],
    }
    for _ in range(BREAKDOWN_SAMPLES):

        def args() -> tuple[uuid.UUID, uuid.UUID, str, datetime]:
            return tenant, rng.choice(leads), f"pool-{rng.randrange(pools)}", datetime.now(UTC)

        began = time.perf_counter()
        with contextlib.suppress(PoolExhausted):
            lease_number(UnitOfWork(use_case, tenant), *args())
        times["use_case"].append((time.perf_counter() - began) * 1000)
        for name, conn in (("statement", bare), ("statement_no_flush_wait", lazy)):
            began = time.perf_counter()
            conn.execute(claim, args()).fetchall()
            times[name].append((time.perf_counter() - began) * 1000)
        plan = explain.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + claim, args()).fetchone()
        explain.rollback()
        assert plan is not None
        times["server_execution"].append(plan["QUERY PLAN"][0]["Execution Time"])
        began = time.perf_counter()
        bare.execute("SELECT 1").fetchone()
        times["round_trip"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()  # the floor of any durable write: one row, committed
        bare.execute("INSERT INTO bench_floor DEFAULT VALUES")
        times["durable_insert"].append((time.perf_counter() - began) * 1000)
    for conn in (bare, lazy, explain):
        conn.close()
    use_case.acquire().close()
    return {
        name: (round(p50(values), 3), round(statistics.quantiles(values, n=100)[98], 3))
        for name, values in times.items()
    }


# claim_lease's bookkeeping beyond taking the number, each cut out of a copy of the
# function (in the bench's database only) to measure what it costs a claim
BOOKKEEPING = {
    "lead_event": r"INSERT INTO lead_events .*?;",  # NUMBER_LEASED on the lead's timeline
    "outbox_event": r"INSERT INTO outbox_events .*?;",  # lease.acquired, for delivery
    "lead_copy": r"UPDATE leads l SET assigned_phone_number_id .*?;",  # the lead's last number
}


def claim_without(admin: Connection, parts: tuple[str, ...]) -> str:
    """A copy of claim_lease without `parts` of its bookkeeping, granted as the original
    is; its name."""
    body = admin.execute("SELECT pg_get_functiondef('claim_lease'::regproc) AS d").fetchone()["d"]  # type: ignore[index]
    for part in parts:
        body, cuts = re.subn(BOOKKEEPING[part], "", body, count=1, flags=re.S)
        if not cuts:
            raise SystemExit(f"claim_lease no longer has its {part} step: update BOOKKEEPING")
    name = "claim_without_" + "_".join(parts)
    admin.execute(body.replace("FUNCTION public.claim_lease(", f"FUNCTION public.{name}("))
    admin.execute(f"GRANT EXECUTE ON FUNCTION {name} TO tether_app")
    return name


def wal_totals(admin: Connection) -> tuple[int, int, int]:
    """(bytes, records, full-page images) the server has written to its WAL so far."""
    time.sleep(1.1)  # a backend reports its WAL statistics at most once a second
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute(
        "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint AS bytes,"
        " wal_records, wal_fpi FROM pg_stat_wal"
    ).fetchone()
    assert row is not None
    return row["bytes"], row["wal_records"], row["wal_fpi"]


def claim_costs(
    admin: Connection,
    admin_url: str,
    app_url: str,
    tenant: uuid.UUID,
    leads: list[uuid.UUID],
    pools: int,
    claims: int,
    runs: int,
) -> dict[str, dict[str, float]]:
    """What one claim costs, one claimer: the CPU of its server process and of this
    client, its wall time and the WAL it writes. For the seed's design, Tether's use
    case, its statement alone, and the statement without each part of its bookkeeping
    (then without all of it). Medians of `runs`, each after a reset and a checkpoint."""
    statements = {"statement": "claim_lease"}
    for part in BOOKKEEPING:
        statements[f"without {part}"] = claim_without(admin, (part,))
    statements["without all three"] = claim_without(admin, tuple(BOOKKEEPING))
    rng = random.Random(7)

    def claimer(kind: str) -> tuple[Callable[[uuid.UUID, str], object], Connection]:
        if kind == "seed":
            conn = connect(admin_url)
            return seed_claimer(conn), conn
        if kind == "use case":
            reused = ReusedConnection(app_url)
            return tether_claimer(reused, tenant), reused.acquire()
        conn = connect(app_url, autocommit=True)
        sql = f"SELECT * FROM {statements[kind]}(%s, %s, %s, %s)"
        return (
            lambda lead, pool: conn.execute(sql, (tenant, lead, pool, datetime.now(UTC))).fetchall()
        ), conn

    samples: dict[str, list[dict[str, float]]] = {}
    for _ in range(runs):
        for kind in ("seed", "use case", *statements):
            reset(admin)
            admin.execute("CHECKPOINT")  # every kind starts with the same full-page images due
            claim, conn = claimer(kind)
            pid = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]  # type: ignore[index]
            conn.commit()
            for _ in range(100):  # warm: the function's plans, the connection's caches
                claim(rng.choice(leads), f"pool-{rng.randrange(pools)}")
            conn.execute("SELECT pg_stat_force_next_flush()")  # the warm-up's WAL reported
            conn.commit()
            wal_before, server_before = wal_totals(admin), procs.cpu_seconds(pid)
            cpu_before, wall_before = time.process_time(), time.perf_counter()
            for _ in range(claims):
                claim(rng.choice(leads), f"pool-{rng.randrange(pools)}")
            cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
            server_after = procs.cpu_seconds(pid)
            conn.close()  # its server process reports the last of its WAL statistics
            wal_after = wal_totals(admin)
            sample = {
                "client_cpu_us": cpu / claims * 1e6,
                "wall_us": wall / claims * 1e6,
                "wal_bytes": (wal_after[0] - wal_before[0]) / claims,
                "wal_records": (wal_after[1] - wal_before[1]) / claims,
                "wal_fpi": (wal_after[2] - wal_before[2]) / claims,
            }
            if server_before is not None and server_after is not None:
                sample["server_cpu_us"] = (server_after - server_before) / claims * 1e6
            samples.setdefault(kind, []).append(sample)
    return {
        kind: {name: p50([sample[name] for sample in runs_]) for name in runs_[0]}
        for kind, runs_ in samples.items()
    }


def delivery_counts(app_url: str, tenant: uuid.UUID, numbers: list[uuid.UUID], n: int) -> None:
    """What a send does to its number: count the delivery outcome (one unit of work
    each, as the outbound and status paths do)."""
    rng = random.Random(5)
    connection = ReusedConnection(app_url)
    for _ in range(n):
        with UnitOfWork(connection, tenant) as uow:
            uow.numbers.record_delivery(rng.choice(numbers), "sent", datetime.now(UTC))
            uow.commit()
    connection.acquire().close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=100)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--claimers", default="1,8,32")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument(
        "--cost-claims", type=int, default=3000, help="claims per run of the per-claim costs"
    )
    parser.add_argument(
        "--fillfactor",
        type=int,
        default=None,
        help="phone_numbers' fillfactor before the load (default: as migrated, 80)",
    )
    args = parser.parse_args()
    # an exhausted pool's warning (the pools run dry between resets) is not a figure
    logger.setLevel("ERROR")

    server = server_url()
    drop_database(server, DATABASE)
    create_database(server, DATABASE)
    admin_url = with_database(server, DATABASE)
    apply_pending(conninfo=admin_url)
    app_url = as_role(admin_url, "tether_app")
    figures: dict[str, float] = {}
    try:
        with connect(admin_url, autocommit=True) as admin:
            if args.fillfactor is not None:
                admin.execute(f"ALTER TABLE phone_numbers SET (fillfactor = {args.fillfactor:d})")
            tenant = load(admin, args.numbers, args.pools, args.leads)
            sample = admin.execute("SELECT id FROM leads ORDER BY random() LIMIT 20000").fetchall()
            leads = [row["id"] for row in sample]
            numbers = [
                row["id"]
                for row in admin.execute(
                    "SELECT id FROM phone_numbers ORDER BY random() LIMIT 20000"
                ).fetchall()
            ]
            admin.execute("SELECT pg_stat_reset()")
            # first what a send does to its number, on the inventory as loaded
            hot_loaded = hot_counts(admin)
            delivery_counts(app_url, tenant, numbers, args.deliveries)
            hot_delivered = hot_counts(admin)
            # the tether claims' own updates (the resets and the seed's are left out)
            claimed: dict[str, list[int]] = {"phone_numbers": [0, 0], "leads": [0, 0]}
            waits: dict[tuple[str, int], collections.Counter[str]] = collections.defaultdict(
                collections.Counter
            )
            print(f"medians of {args.runs} runs of {args.seconds:g} s, the designs alternated")
            print(f"{'design':8} {'claimers':>8} {'claims/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
            for claimers in (int(n) for n in args.claimers.split(",")):
                runs: dict[str, list[dict[str, float]]] = {"tether": [], "seed": []}
                for _ in range(args.runs):
                    for design in ("tether", "seed"):
                        reset(admin)
                        before = hot_counts(admin) if design == "tether" else {}
                        result, sampled = run(
                            design,
                            claimers,
                            args.seconds,
                            admin_url,
                            app_url,
                            tenant,
                            leads,
                            args.pools,
                        )
                        runs[design].append(result)
                        waits[(design, claimers)].update(sampled)
                        if design == "tether":
                            after = hot_counts(admin)
                            for table, totals in claimed.items():
                                updates, hot, _ = hot_delta(before, after, table)
                                totals[0] += updates
                                totals[1] += hot
                for design, results in runs.items():
                    median = {
                        name: p50([result[name] for result in results])
                        for name in ("claims_per_s", "p50_ms", "p99_ms")
                    }
                    print(
                        f"{design:8} {claimers:>8} {median['claims_per_s']:>10.0f}"
                        f" {median['p50_ms']:>8.3f} {median['p99_ms']:>8.3f}"
                    )
                    for name, value in median.items():
                        figures[f"{design}_{claimers}_{name}"] = round(value, 3)
                ratio = (
                    figures[f"tether_{claimers}_claims_per_s"]
                    / figures[f"seed_{claimers}_claims_per_s"]
                )
                figures[f"tether_vs_seed_{claimers}"] = round(ratio, 2)
                print(f"{'':8} {claimers:>8} tether/seed claims per second: {ratio:.2f}x")
            print(
                "\nwhat the server processes were doing while they claimed (share of 5 ms"
                " samples of pg_stat_activity, every run; `running`: on a CPU or waiting"
                " for one):"
            )
            for (design, claimers), counts in waits.items():
                total = sum(counts.values())
                top = ", ".join(
                    f"{wait} {n / total:.0%}"
                    for wait, n in counts.most_common(5)
                    if n / total >= 0.01
                )
                print(f"  {design:8} {claimers:>3}  {top}")
                for wait, n in counts.items():
                    figures[f"waits_{design}_{claimers}_{wait}"] = round(n / total, 3)
            reset(admin)
            print("\nwhere one claimer's claim goes (interleaved samples, ms):")
            print(f"  {'':34} {'p50':>8} {'p99':>8}")
            breakdown_ = breakdown(admin_url, app_url, tenant, leads, args.pools)
            for name, (median_, p99) in breakdown_.items():
                print(f"  {name:34} {median_:8.3f} {p99:8.3f}")
                figures[f"breakdown_{name}_ms"] = median_
                figures[f"breakdown_{name}_p99_ms"] = p99
            parts = {name: median_ for name, (median_, _) in breakdown_.items()}
            print(
                f"  client (use case - statement)      {parts['use_case'] - parts['statement']:8.3f}\n"
                f"  WAL flush wait (statement - async) {parts['statement'] - parts['statement_no_flush_wait']:8.3f}"
            )
            print(
                "\nwhat one claim costs, one claimer (medians of"
                f" {args.runs} runs of {args.cost_claims} claims, each after a checkpoint):"
            )
            print(
                f"  {'':24} {'server CPU µs':>13} {'client CPU µs':>13} {'wall µs':>8}"
                f" {'WAL bytes':>9} {'records':>7} {'FPI':>5}"
            )
            costs = claim_costs(
                admin,
                admin_url,
                app_url,
                tenant,
                leads,
                args.pools,
                args.cost_claims,
                args.runs,
            )
            for kind, cost in costs.items():
                server_cpu = cost.get("server_cpu_us")
                print(
                    f"  {kind:24} {'-' if server_cpu is None else f'{server_cpu:.0f}':>13}"
                    f" {cost['client_cpu_us']:>13.0f} {cost['wall_us']:>8.0f}"
                    f" {cost['wal_bytes']:>9.0f} {cost['wal_records']:>7.1f} {cost['wal_fpi']:>5.2f}"
                )
                key = kind.replace(" ", "_")
                for name, value in cost.items():
                    figures[f"cost_{key}_{name}"] = round(value, 2)
            if all("server_cpu_us" in costs[kind] for kind in ("seed", "use case")):
                cpu = {
                    kind: costs[kind]["server_cpu_us"] + costs[kind]["client_cpu_us"]
                    for kind in ("seed", "use case")
                }
                figures["cpu_seed_vs_tether"] = round(cpu["seed"] / cpu["use case"], 2)
                print(
                    f"  CPU per claim, server and client: seed {cpu['seed']:.0f} µs,"
                    f" Tether {cpu['use case']:.0f} µs ({cpu['seed'] / cpu['use case']:.2f}x)"
                )
            print("\nHOT updates (n_tup_hot_upd / n_tup_upd):")
            phases: list[tuple[str, str, int, int]] = []
            for table in ("phone_numbers", "leads"):
                updates, hot, _ = hot_delta(hot_loaded, hot_delivered, table)
                phases.append(("delivery counts", table, updates, hot))
            for table, (updates, hot) in claimed.items():
                phases.append(("claims", table, updates, hot))
            for phase, table, updates, hot in phases:
                if not updates:
                    continue
                ratio = hot / updates
                print(f"  {phase:16} {table:14} {hot:>8} / {updates:<8} = {ratio:.3f}")
                key = phase.replace(" ", "_")
                figures[f"{key}_{table}_updates"] = updates
                figures[f"{key}_{table}_hot_updates"] = hot
                figures[f"{key}_{table}_hot_ratio"] = round(ratio, 3)
    finally:
        drop_database(server, DATABASE)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
