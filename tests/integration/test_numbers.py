"""Inventory, campaign staging (seed 000) and the sticky sender, on real PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from psycopg import errors as pg

from tests.support.factories import as_tenant, make_campaign, make_lead, make_tenant
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NoFreeNumber, NotFound, SenderUnavailable
from tether.services.leases import lease_number
from tether.services.numbers import (
    NumberRow,
    record_number_delivery,
    register_numbers,
    rehome_lead,
    resolve_sender,
    retire_number,
    stage_campaign,
)

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
POOL = "My Reverse Options"


class Tenant:
    """A tenant with numbers registered through the service, as a user would."""

    def __init__(
        self, admin: Connection, connections: FreshConnections, numbers: list[str], **config: object
    ) -> None:
        self.admin = admin
        self.connections = connections
        self.id, self.account_id = make_tenant(admin, **config)
        if numbers:
            report = self.register(numbers)
            assert len(report.stored) == len(numbers)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.connections, self.id)

    def register(self, numbers: list[str], pool: str = POOL):  # type: ignore[no-untyped-def]
        return register_numbers(
            self.uow(), self.id, self.account_id, pool, [NumberRow(n) for n in numbers]
        )

    def number_id(self, e164: str) -> uuid.UUID:
        row = self.admin.execute(
            "SELECT id FROM phone_numbers WHERE tenant_id = %s AND e164 = %s", (self.id, e164)
        ).fetchone()
        assert row is not None
        number_id: uuid.UUID = row["id"]
        return number_id

    def staged_campaign(self, rotation: int = 0, pool: str = POOL) -> uuid.UUID:
        campaign_id = make_campaign(self.admin, self.id, pool)
        stage_campaign(self.uow(), campaign_id, NOW, rotation_numbers=rotation)
        return campaign_id

    def sender(self, lead_id: uuid.UUID, campaign_id: uuid.UUID) -> str:
        with self.uow() as uow:
            binding = resolve_sender(uow, lead_id, campaign_id, NOW)
            uow.commit()
            return binding.phone_number


# inventory


def test_bulk_registration_stores_valid_rows_and_reports_the_rest(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, ["+14155550100"])
    report = tenant.register(
        ["(415) 555-0101", "not a number", "415-555-0101", "+14155550100", "555-0102", ""]
    )
    assert report.stored == ["+14155550101"]
    assert report.already_registered == ["+14155550100"]
    assert [(r.row, r.reason) for r in report.rejected] == [
        (2, "not a phone number"),
        (3, "duplicate of row 1"),
        (5, "local number without an area code"),
        (6, "empty"),
    ]
    count = admin.execute(
        "SELECT count(*) AS n FROM phone_numbers WHERE tenant_id = %s", (tenant.id,)
    ).fetchone()
    assert count == {"n": 2}


def test_registration_reads_national_numbers_in_the_tenants_region(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, [], default_region="GB")
    assert tenant.register(["020 7946 0018"]).stored == ["+442079460018"]


def test_registration_needs_the_tenants_own_provider_account(
    admin: Connection, app_connections: FreshConnections
) -> None:
    ours = Tenant(admin, app_connections, [])
    theirs = Tenant(admin, app_connections, [])
    with pytest.raises(NotFound, match="provider account"):
        register_numbers(ours.uow(), ours.id, theirs.account_id, POOL, [NumberRow("+14155550100")])
    with pytest.raises(InvalidInput, match="pool"):
        register_numbers(ours.uow(), ours.id, ours.account_id, "  ", [NumberRow("+14155550100")])


# staging


def test_staging_assigns_a_primary_and_rotation_numbers_once(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, ["+14155550100", "+14155550101", "+14155550102"])
    campaign_id = make_campaign(admin, tenant.id, POOL)
    first = stage_campaign(tenant.uow(), campaign_id, NOW, rotation_numbers=1)
    again = stage_campaign(tenant.uow(), campaign_id, NOW, rotation_numbers=2)
    assert again == first
    assert [a["is_primary"] for a in first] == [True, False]
    status = admin.execute("SELECT status FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()
    assert status == {"status": "staged"}


def test_a_number_of_a_live_campaign_is_not_free(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, ["+14155550100", "+14155550101"])
    tenant.staged_campaign()
    tenant.staged_campaign()
    campaign_id = make_campaign(admin, tenant.id, POOL)
    with pytest.raises(NoFreeNumber) as error:
        stage_campaign(tenant.uow(), campaign_id, NOW)
    assert error.value.pool == POOL
    assert POOL in str(error.value)
    rows = admin.execute(
        "SELECT count(*) AS n FROM campaign_phone_assignments WHERE campaign_id = %s",
        (campaign_id,),
    )
    assert rows.fetchone() == {"n": 0}
    assert admin.execute(
        "SELECT status FROM campaigns WHERE id = %s", (campaign_id,)
    ).fetchone() == {"status": "draft"}


def test_concurrent_staging_never_shares_a_number(
    admin: Connection, app_connections: FreshConnections
) -> None:
    numbers = [f"+1415555{n:04d}" for n in range(100, 106)]
    tenant = Tenant(admin, app_connections, numbers)
    campaigns = [make_campaign(admin, tenant.id, POOL) for _ in range(8)]
    outcomes: list[str] = []

    def stage(campaign_id: uuid.UUID) -> None:
        try:
            stage_campaign(tenant.uow(), campaign_id, NOW)
            outcomes.append("staged")
        except NoFreeNumber:
            outcomes.append("no free number")

    threads = [threading.Thread(target=stage, args=(c,)) for c in campaigns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["no free number"] * 2 + ["staged"] * 6
    used = admin.execute(
        "SELECT phone_number_id, count(*) AS n FROM campaign_phone_assignments WHERE tenant_id = %s"
        " GROUP BY phone_number_id",
        (tenant.id,),
    ).fetchall()
    assert len(used) == 6
    assert all(row["n"] == 1 for row in used)


# the sticky sender


def test_binding_is_stable_across_100_sends(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, ["+14155550100", "+12125550100", "+13125550100"])
    campaign_id = tenant.staged_campaign(rotation=2)
    lead_id = make_lead(admin, tenant.id, "+16175550123", campaign_id)
    senders = {tenant.sender(lead_id, campaign_id) for _ in range(100)}
    assert len(senders) == 1


def test_area_code_first_then_time_zone_then_least_loaded(
    admin: Connection, app_connections: FreshConnections
) -> None:
    # 212 New York; 650 and 415 California (Los Angeles time zone)
    tenant = Tenant(admin, app_connections, ["+12125550100", "+16505550100", "+14155550100"])
    campaign_id = tenant.staged_campaign(rotation=2)
    same_area = make_lead(admin, tenant.id, "+14155550199", campaign_id)
    assert tenant.sender(same_area, campaign_id) == "+14155550100"
    same_zone = make_lead(admin, tenant.id, "+13105550199", campaign_id)  # Los Angeles: 650 is free
    assert tenant.sender(same_zone, campaign_id) == "+16505550100"
    # Chicago matches no area code or zone: the least loaded number each time (212 holds
    # none yet, then all hold one and the tie goes to the lowest number)
    elsewhere = [make_lead(admin, tenant.id, f"+1312555{n:04d}", campaign_id) for n in range(3)]
    assert [tenant.sender(lead, campaign_id) for lead in elsewhere] == [
        "+12125550100",
        "+12125550100",
        "+14155550100",
    ]


def test_concurrent_first_sends_converge_on_one_binding(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, [f"+1415555{n:04d}" for n in range(100, 104)])
    campaign_id = tenant.staged_campaign(rotation=3)
    lead_id = make_lead(admin, tenant.id, "+16175550123", campaign_id)
    seen: list[str] = []
    threads = [
        threading.Thread(target=lambda: seen.append(tenant.sender(lead_id, campaign_id)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert len(set(seen)) == 1


def test_retired_number_is_never_rehomed_silently(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, ["+14155550100", "+14155550101"])
    campaign_id = tenant.staged_campaign(rotation=1)
    lead_id = make_lead(admin, tenant.id, "+14155550199", campaign_id)
    first = tenant.sender(lead_id, campaign_id)
    retired = retire_number(tenant.uow(), tenant.number_id(first), NOW)
    assert retired.leads_to_rehome == [(lead_id, campaign_id)]
    with tenant.uow() as uow, pytest.raises(SenderUnavailable, match="re-home"):
        resolve_sender(uow, lead_id, campaign_id, NOW)
    moved = rehome_lead(tenant.uow(), lead_id, campaign_id, "number retired", NOW)
    assert moved.phone_number != first
    assert tenant.sender(lead_id, campaign_id) == moved.phone_number
    event = admin.execute(
        "SELECT payload FROM lead_events WHERE lead_id = %s AND event_type = 'SENDER_REHOMED'",
        (lead_id,),
    ).fetchone()
    assert event is not None
    assert event["payload"] == {
        "campaign_id": str(campaign_id),
        "from_number": first,
        "to_number": moved.phone_number,
        "reason": "number retired",
    }


def test_a_binding_cannot_change_without_a_rehome_event(
    admin: Connection, app_connections: FreshConnections, app: Connection
) -> None:
    tenant = Tenant(admin, app_connections, ["+14155550100", "+14155550101"])
    campaign_id = tenant.staged_campaign(rotation=1)
    lead_id = make_lead(admin, tenant.id, "+14155550199", campaign_id)
    other_lead = make_lead(admin, tenant.id, "+14155550198", campaign_id)
    tenant.sender(lead_id, campaign_id)
    other = admin.execute(
        "SELECT a.id, a.phone_number_id, a.phone_number FROM campaign_phone_assignments a"
        " WHERE a.campaign_id = %s AND a.id <> (SELECT campaign_phone_assignment_id FROM lead_sender_bindings"
        " WHERE lead_id = %s)",
        (campaign_id, lead_id),
    ).fetchone()
    assert other is not None
    move = (
        "UPDATE lead_sender_bindings SET campaign_phone_assignment_id = %s, phone_number_id = %s,"
        " phone_number = %s, rehome_event_id = %s WHERE lead_id = %s"
    )
    as_tenant(app, tenant.id)
    with pytest.raises(pg.CheckViolation) as silent:
        app.execute(
            move, (other["id"], other["phone_number_id"], other["phone_number"], None, lead_id)
        )
    assert silent.value.diag.constraint_name == "lead_sender_bindings_rehome_audited"
    app.rollback()
    foreign_event = admin.execute(
        "INSERT INTO lead_events (tenant_id, lead_id, event_type) VALUES (%s, %s, 'SENDER_REHOMED') RETURNING id",
        (tenant.id, other_lead),
    ).fetchone()
    assert foreign_event is not None
    as_tenant(app, tenant.id)
    with pytest.raises(pg.ForeignKeyViolation):  # the event must be this lead's
        app.execute(
            move,
            (
                other["id"],
                other["phone_number_id"],
                other["phone_number"],
                foreign_event["id"],
                lead_id,
            ),
        )
    app.rollback()
    as_tenant(app, tenant.id)
    with pytest.raises(pg.InsufficientPrivilege):  # and a binding is never deleted
        app.execute("DELETE FROM lead_sender_bindings WHERE lead_id = %s", (lead_id,))


def test_unstaged_campaign_has_no_sender(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, ["+14155550100"])
    campaign_id = make_campaign(admin, tenant.id, POOL)
    lead_id = make_lead(admin, tenant.id, "+14155550199", campaign_id)
    with tenant.uow() as uow, pytest.raises(SenderUnavailable, match="stage it first"):
        resolve_sender(uow, lead_id, campaign_id, NOW)


# number health


def test_a_failing_number_rests_and_stops_being_chosen(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(
        admin,
        app_connections,
        ["+14155550100", "+14155550101"],
        number_failure_threshold=0.2,
        number_health_min_sample=10,
        number_health_cooldown_hours=24,
    )
    campaign_id = tenant.staged_campaign(rotation=1)
    bad = tenant.number_id("+14155550100")
    rested = []
    with tenant.uow() as uow:
        for n in range(10):
            rested.append(record_number_delivery(uow, tenant.id, bad, "sent", NOW))
            if n < 3:
                rested.append(record_number_delivery(uow, tenant.id, bad, "failed", NOW))
        uow.commit()
    assert rested.count(True) == 1  # 3 of 10 failed: 30 % > 20 %, judged at the 10th send
    row = admin.execute(
        "SELECT sent_count, failed_count, cooldown_until FROM phone_numbers WHERE id = %s", (bad,)
    ).fetchone()
    assert row == {"sent_count": 10, "failed_count": 3, "cooldown_until": NOW + timedelta(hours=24)}
    lead_id = make_lead(admin, tenant.id, "+14155550199", campaign_id)
    assert (
        tenant.sender(lead_id, campaign_id) == "+14155550101"
    )  # same area code, but the other rests
    assert lease_number(tenant.uow(), tenant.id, lead_id, POOL, NOW).phone_number == "+14155550101"
    audit = admin.execute(
        "SELECT kind FROM audit_log WHERE tenant_id = %s AND kind = 'number_rested'", (tenant.id,)
    ).fetchall()
    assert len(audit) == 1


def test_a_healthy_number_keeps_working(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections, ["+14155550100"], number_health_min_sample=10)
    number = tenant.number_id("+14155550100")
    with tenant.uow() as uow:
        outcomes = [record_number_delivery(uow, tenant.id, number, "sent", NOW) for _ in range(50)]
        outcomes.append(record_number_delivery(uow, tenant.id, number, "filtered", NOW))
        uow.commit()
    assert not any(outcomes)
