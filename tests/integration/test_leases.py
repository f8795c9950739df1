"""Pool leases (seed 001) against real PostgreSQL, with an injected clock."""

from __future__ import annotations

import random
import threading
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg import errors as pg
from psycopg.pq import TransactionStatus

from functions.pool_release import app as pool_release_function
from tests.support.factories import MigratedDatabase, make_campaign, make_lead, make_tenant
from tests.support.lambda_context import LambdaContextStub
from tether.db.connection import Connection, FreshConnections, ReusedConnection, connect
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NotFound, PoolExhausted
from tether.domain.leases import CallOutcome
from tether.services.leases import (
    lease_number,
    record_call_outcome,
    release_expired_leases,
    release_lease,
)
from tether.services.numbers import NumberRow, register_numbers

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)  # 10:00 in New York
POOL = "My Reverse Options"


class Pool:
    def __init__(
        self,
        admin: Connection,
        app: FreshConnections,
        jobs: FreshConnections,
        size: int,
        **config: object,
    ) -> None:
        self.admin, self.app, self.jobs = admin, app, jobs
        self.tenant_id, account_id = make_tenant(admin, **config)
        register_numbers(
            self.uow(),
            self.tenant_id,
            account_id,
            POOL,
            [NumberRow(f"+1415555{n:04d}") for n in range(size)],
        )

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.app, self.tenant_id)

    def lead(self) -> uuid.UUID:
        return make_lead(self.admin, self.tenant_id)

    def lease(self, lead_id: uuid.UUID, now: datetime = NOW) -> str:
        return lease_number(self.uow(), self.tenant_id, lead_id, POOL, now).phone_number

    def outcome(
        self,
        lead_id: uuid.UUID,
        outcome: CallOutcome,
        now: datetime,
        appointment_at: datetime | None = None,
    ) -> datetime | None:
        return record_call_outcome(
            self.uow(), self.tenant_id, lead_id, POOL, outcome, now, appointment_at
        )

    def release_expired(self, now: datetime) -> int:
        """Run the release job (across tenants, like the real one); how many of this
        pool's leases it released."""
        before = self.leased_count()
        release_expired_leases(UnitOfWork(self.jobs), now)
        return before - self.leased_count()

    def leased_count(self) -> int:
        row = self.admin.execute(
            "SELECT count(*) AS n FROM phone_numbers WHERE tenant_id = %s AND currently_assigned_to IS NOT NULL",
            (self.tenant_id,),
        ).fetchone()
        assert row is not None
        count: int = row["n"]
        return count

    def holder(self, e164: str) -> uuid.UUID | None:
        row = self.admin.execute(
            "SELECT currently_assigned_to FROM phone_numbers WHERE tenant_id = %s AND e164 = %s",
            (self.tenant_id, e164),
        ).fetchone()
        assert row is not None
        holder: uuid.UUID | None = row["currently_assigned_to"]
        return holder


@pytest.fixture
def pool(
    admin: Connection, app_connections: FreshConnections, jobs_connections: FreshConnections
) -> Pool:
    return Pool(admin, app_connections, jobs_connections, size=3, lease_cooldown_minutes=60)


def test_lease_is_recorded_on_the_number_the_lead_and_the_event_log(
    pool: Pool, admin: Connection
) -> None:
    lead_id = pool.lead()
    number = pool.lease(lead_id)
    assert pool.holder(number) == lead_id
    lead = admin.execute(
        "SELECT p.e164, l.phone_assigned_at FROM leads l JOIN phone_numbers p ON p.id = l.assigned_phone_number_id"
        " WHERE l.id = %s",
        (lead_id,),
    ).fetchone()
    assert lead == {"e164": number, "phone_assigned_at": NOW}
    event = admin.execute(
        "SELECT payload FROM lead_events WHERE lead_id = %s AND event_type = 'NUMBER_LEASED'",
        (lead_id,),
    ).fetchone()
    assert event is not None
    assert event["payload"]["phone_number"] == number
    assert event["payload"]["pool"] == POOL


def test_least_recently_used_number_goes_first(pool: Pool, admin: Connection) -> None:
    admin.execute(
        "UPDATE phone_numbers SET last_leased_at = %s::timestamptz - (substr(e164, 12)::int * interval '1 day')"
        " WHERE tenant_id = %s",
        (NOW, pool.tenant_id),
    )  # +14155550000 used today, ...0001 a day ago, ...0002 two days ago
    assert [pool.lease(pool.lead()) for _ in range(3)] == [
        "+14155550002",
        "+14155550001",
        "+14155550000",
    ]


def test_a_lead_gets_its_own_number_back(pool: Pool) -> None:
    lead_id = pool.lead()
    first = pool.lease(lead_id)
    again = lease_number(pool.uow(), pool.tenant_id, lead_id, POOL, NOW + timedelta(hours=1))
    assert (again.phone_number, again.already_held, again.assigned_at) == (first, True, NOW)


def test_exhausted_pool_is_a_typed_error_with_an_audit_row(pool: Pool, admin: Connection) -> None:
    for _ in range(3):
        pool.lease(pool.lead())
    lead_id = pool.lead()
    with pytest.raises(PoolExhausted) as error:
        pool.lease(lead_id)
    assert error.value.pool == POOL
    audit = admin.execute(
        "SELECT detail FROM audit_log WHERE tenant_id = %s AND kind = 'pool_exhausted'",
        (pool.tenant_id,),
    ).fetchall()
    assert audit == [{"detail": {"pool": POOL}}]


def test_a_released_number_rests_before_its_next_lease(pool: Pool) -> None:
    leads = [pool.lead() for _ in range(3)]
    numbers = [pool.lease(lead) for lead in leads]
    assert release_lease(pool.uow(), leads[0], POOL, NOW)
    with pytest.raises(PoolExhausted):
        pool.lease(pool.lead(), NOW + timedelta(minutes=59))
    assert pool.lease(pool.lead(), NOW + timedelta(minutes=60)) == numbers[0]


def test_no_booking_releases_18_hours_after_assignment(pool: Pool) -> None:
    lead_id = pool.lead()
    number = pool.lease(lead_id)
    assert pool.outcome(
        lead_id, CallOutcome.NO_BOOKING, NOW + timedelta(hours=1)
    ) == NOW + timedelta(hours=18)
    assert pool.release_expired(NOW + timedelta(hours=18) - timedelta(microseconds=1)) == 0
    assert pool.holder(number) == lead_id
    assert pool.release_expired(NOW + timedelta(hours=18)) == 1
    assert pool.holder(number) is None


def test_booked_appointment_holds_until_24_hours_after_it(pool: Pool) -> None:
    lead_id = pool.lead()
    number = pool.lease(lead_id)
    appointment = NOW + timedelta(days=3)
    assert pool.outcome(
        lead_id, CallOutcome.BOOKED, NOW + timedelta(hours=2), appointment
    ) == appointment + timedelta(hours=24)
    assert pool.release_expired(appointment + timedelta(hours=24) - timedelta(microseconds=1)) == 0
    assert pool.holder(number) == lead_id
    assert pool.release_expired(appointment + timedelta(hours=24)) == 1
    assert pool.holder(number) is None


def test_no_answer_retries_the_same_day_then_releases(pool: Pool) -> None:
    lead_id = pool.lead()
    number = pool.lease(lead_id)
    midnight_new_york = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    assert (
        pool.outcome(lead_id, CallOutcome.NO_ANSWER, NOW + timedelta(hours=1)) == midnight_new_york
    )
    assert pool.release_expired(midnight_new_york - timedelta(microseconds=1)) == 0
    assert (
        pool.outcome(lead_id, CallOutcome.NO_ANSWER, NOW + timedelta(hours=3)) is None
    )  # second miss
    assert pool.holder(number) is None


def test_no_answer_unanswered_all_day_releases_at_local_midnight(pool: Pool) -> None:
    lead_id = pool.lead()
    number = pool.lease(lead_id)
    pool.outcome(lead_id, CallOutcome.NO_ANSWER, NOW + timedelta(hours=1))
    assert pool.release_expired(datetime(2026, 11, 22, 5, 0, tzinfo=UTC)) == 1
    assert pool.holder(number) is None


def test_outcome_without_a_lease_is_not_found(pool: Pool) -> None:
    with pytest.raises(NotFound, match="lease"):
        pool.outcome(pool.lead(), CallOutcome.NO_BOOKING, NOW)


def test_release_job_is_idempotent_and_records_each_release_once(
    pool: Pool, admin: Connection
) -> None:
    leads = [pool.lead() for _ in range(3)]
    for lead in leads:
        pool.lease(lead)
    later = NOW + timedelta(hours=19)
    assert pool.release_expired(later) == 3
    assert pool.release_expired(later) == 0
    events = admin.execute(
        "SELECT count(*) AS n FROM lead_events WHERE tenant_id = %s AND event_type = 'NUMBER_RELEASED'",
        (pool.tenant_id,),
    ).fetchone()
    assert events == {"n": 3}


def test_release_job_works_through_a_backlog_in_batches(
    admin: Connection, app_connections: FreshConnections, jobs_connections: FreshConnections
) -> None:
    # the job works across tenants: other tests' expired leases go first, so that the
    # batches counted below are this backlog's whatever ran before
    release_expired_leases(UnitOfWork(jobs_connections), NOW + timedelta(days=1), batch_size=1000)
    big = Pool(admin, app_connections, jobs_connections, size=25)
    for _ in range(25):
        big.lease(big.lead())
    report = release_expired_leases(
        UnitOfWork(jobs_connections), NOW + timedelta(days=1), batch_size=10
    )
    assert report.finished
    assert report.batches == 3
    assert report.released >= 25  # other tests' expired leases may be released too


def test_monitoring_views(pool: Pool, admin: Connection, app: Connection) -> None:
    from tests.support.factories import as_tenant

    real_now = datetime.now(UTC)
    leads = [pool.lead() for _ in range(2)]
    pool.lease(leads[0], real_now - timedelta(hours=20))  # overdue: released 2 h ago
    pool.lease(leads[1], real_now)
    as_tenant(app, pool.tenant_id)
    health = app.execute(
        "SELECT pool, available, assigned, cooldown, total FROM pool_health"
    ).fetchall()
    assert health == [{"pool": POOL, "available": 1, "assigned": 2, "cooldown": 0, "total": 3}]
    overdue = app.execute("SELECT lead_id FROM overdue_releases").fetchall()
    assert overdue == [{"lead_id": leads[0]}]
    recent = app.execute("SELECT lead_id FROM recent_leases ORDER BY assigned_at").fetchall()
    assert recent == [{"lead_id": leads[0]}, {"lead_id": leads[1]}]
    assert app.execute("SELECT * FROM lease_anomalies").fetchall() == []
    # a write that bypasses lease_number shows up
    stranger = pool.lead()
    admin.execute(
        "UPDATE phone_numbers SET assignment_status = 'assigned', currently_assigned_to = %s, assigned_at = now(),"
        " release_at = now() + interval '1 hour' WHERE tenant_id = %s AND currently_assigned_to IS NULL",
        (stranger, pool.tenant_id),
    )
    anomalies = app.execute("SELECT lead_id, anomaly FROM lease_anomalies").fetchall()
    assert anomalies == [{"lead_id": stranger, "anomaly": "lease not recorded as an event"}]


def test_pool_release_function_releases_expired_leases(
    pool: Pool, admin: Connection, monkeypatch: pytest.MonkeyPatch, test_database: MigratedDatabase
) -> None:
    from tether.config import database_settings
    from tether.db.connection import lambda_connection

    lead_id = pool.lead()
    number = pool.lease(lead_id, datetime.now(UTC) - timedelta(hours=19))
    monkeypatch.setenv("DATABASE_URL", test_database.admin_url)
    database_settings.cache_clear()
    lambda_connection.cache_clear()
    try:
        result = pool_release_function.handler(pool_release_event(), LambdaContextStub())
    finally:
        lambda_connection("jobs").acquire().close()
        database_settings.cache_clear()
        lambda_connection.cache_clear()
    assert result["released"] >= 1
    assert result["finished"] is True
    assert pool.holder(number) is None


def test_32_threads_never_share_a_number_nor_hold_two_in_a_pool(
    admin: Connection, app_connections: FreshConnections
) -> None:
    stress = Pool(admin, app_connections, app_connections, size=12, lease_cooldown_minutes=0)
    leads = [stress.lead() for _ in range(16)]  # fewer leads than threads: leads are contended too
    errors: list[BaseException] = []
    counts: defaultdict[str, int] = defaultdict(int)
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        # one connection per thread, as one per Lambda container, each use case its own
        # transaction on it
        source = ReusedConnection(app_connections.conninfo)
        uow = UnitOfWork(source, stress.tenant_id)
        try:
            for _ in range(500):
                lead_id = rng.choice(leads)
                now = datetime.now(UTC)
                try:
                    lease_number(uow, stress.tenant_id, lead_id, POOL, now)
                    outcome = "leased"
                except PoolExhausted:
                    outcome = "exhausted"
                if rng.random() < 0.8:
                    release_lease(uow, lead_id, POOL, datetime.now(UTC))
                with lock:
                    counts[outcome] += 1
        except BaseException as error:
            errors.append(error)
        finally:
            source.acquire().close()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counts["leased"] + counts["exhausted"] == 32 * 500
    assert counts["leased"] > 32 * 500 // 2
    # Replay the event log: on every number, leases and releases alternate and each
    # release names the lead that held it; no lead ever holds two numbers at once.
    events = admin.execute(
        "SELECT event_type, lead_id, payload ->> 'phone_number' AS number FROM lead_events"
        " WHERE tenant_id = %s AND event_type IN ('NUMBER_LEASED', 'NUMBER_RELEASED')"
        " ORDER BY seq",
        (stress.tenant_id,),
    ).fetchall()
    holder: dict[str, uuid.UUID | None] = {}
    held_by_lead: dict[uuid.UUID, str | None] = {}
    for event in events:
        number, lead_id = event["number"], event["lead_id"]
        if event["event_type"] == "NUMBER_LEASED":
            assert holder.get(number) is None, f"{number} leased twice"
            assert held_by_lead.get(lead_id) is None, f"lead {lead_id} holds two numbers"
            holder[number], held_by_lead[lead_id] = lead_id, number
        else:
            assert holder.get(number) == lead_id
            holder[number], held_by_lead[lead_id] = None, None
    current = admin.execute(
        "SELECT e164, currently_assigned_to FROM phone_numbers WHERE tenant_id = %s",
        (stress.tenant_id,),
    ).fetchall()
    assert {r["e164"]: r["currently_assigned_to"] for r in current} == {
        n: holder.get(n) for n in (r["e164"] for r in current)
    }


def pool_release_event() -> dict[str, object]:
    return {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


class _CountingSource:
    """One real connection whose statements are counted: what a claim costs in round
    trips (each statement is one; a COMMIT of an idle connection sends nothing)."""

    def __init__(self, conninfo: str) -> None:
        self.inner = ReusedConnection(conninfo)
        self.statements: list[str] = []
        self.open_after: list[bool] = []

    def acquire(self) -> Connection:
        conn = self.inner.acquire()
        execute = conn.execute

        def counted(query: Any, params: Any = None, **kwargs: Any) -> Any:
            cursor = execute(query, params, **kwargs)
            self.statements.append(str(query))
            # still in a transaction after it: a COMMIT would be a second round trip
            self.open_after.append(conn.info.transaction_status != TransactionStatus.IDLE)
            return cursor

        conn.execute = counted  # type: ignore[method-assign]
        return conn

    def release(self, conn: Connection) -> None:
        del conn.execute  # the class's own again
        self.inner.release(conn)


def test_a_claim_is_one_statement_committed_as_it_ends(
    pool: Pool, admin: Connection, app_connections: FreshConnections
) -> None:
    source = _CountingSource(app_connections.conninfo)
    lead_id = pool.lead()
    try:
        lease = lease_number(UnitOfWork(source, pool.tenant_id), pool.tenant_id, lead_id, POOL, NOW)
        assert len(source.statements) == 1
        assert "claim_lease" in source.statements[0]
        assert source.open_after == [False]  # committed by the server, no COMMIT to send
        # ... and durable: another session sees the lease, its event and its outbox event
        assert pool.holder(lease.phone_number) == lead_id
        outbox = admin.execute(
            "SELECT type, data FROM outbox_events WHERE tenant_id = %s AND lead_id = %s",
            (pool.tenant_id, lead_id),
        ).fetchall()
        assert [(row["type"], row["data"]["number"]) for row in outbox] == [
            ("lease.acquired", lease.phone_number)
        ]
        # the lease handed back is one statement too, and writes no second event
        source.statements.clear()
        again = lease_number(UnitOfWork(source, pool.tenant_id), pool.tenant_id, lead_id, POOL, NOW)
        assert (again.phone_number, again.already_held, len(source.statements)) == (
            lease.phone_number,
            True,
            1,
        )
    finally:
        source.inner.acquire().close()


def test_a_one_round_trip_claim_never_reaches_another_tenant(
    admin: Connection, app_connections: FreshConnections, jobs_connections: FreshConnections
) -> None:
    ours = Pool(admin, app_connections, jobs_connections, size=1)
    theirs = Pool(admin, app_connections, jobs_connections, size=3)  # same pool name, free
    ours.lease(ours.lead())  # our pool is now empty
    with pytest.raises(PoolExhausted):  # their free numbers of a same-named pool stay theirs
        ours.lease(ours.lead())
    their_lead = theirs.lead()
    with pytest.raises(NotFound):  # their lead, claimed in our name
        lease_number(ours.uow(), ours.tenant_id, their_lead, POOL, NOW)
    assert theirs.leased_count() == 0
    # A transaction scoped to one tenant cannot claim in another's name: the statement
    # that scopes itself refuses to re-scope.
    with UnitOfWork(app_connections, theirs.tenant_id) as uow:
        assert uow.leads.get(their_lead) is not None  # the transaction is theirs now
        with pytest.raises(pg.InsufficientPrivilege):
            uow.numbers.claim(ours.tenant_id, ours.lead(), POOL, NOW, alone=False)
    # nor can the raw function, called after the tenant was set by hand
    with connect(app_connections.conninfo) as app:
        app.execute("SELECT set_config('app.tenant_id', %s, true)", (str(theirs.tenant_id),))
        with pytest.raises(pg.InsufficientPrivilege):
            app.execute(
                "SELECT * FROM claim_lease(%s, %s, %s, %s)",
                (ours.tenant_id, their_lead, POOL, NOW),
            )
    assert theirs.leased_count() == 0


def test_a_claim_without_a_pool_takes_the_lead_campaigns(pool: Pool, admin: Connection) -> None:
    campaign_id = make_campaign(admin, pool.tenant_id, POOL)
    lead_id = make_lead(admin, pool.tenant_id, campaign_id=campaign_id)
    lease = lease_number(pool.uow(), pool.tenant_id, lead_id, None, NOW)
    assert (lease.pool, pool.holder(lease.phone_number)) == (POOL, lead_id)
    with pytest.raises(InvalidInput):  # no campaign and no pool named
        lease_number(pool.uow(), pool.tenant_id, pool.lead(), None, NOW)
