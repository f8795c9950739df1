"""The outbox (migration 0031): an event is a fact of its transaction, and only its
relay time may change; erasure empties its data once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from psycopg import errors

from tests.support.factories import Chain
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.outbox import EventType

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def record(app_connections: FreshConnections, chain: Chain, *, commit: bool) -> uuid.UUID:
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        event = uow.outbox.record(
            chain.tenant_id,
            EventType.LEAD_STATE_CHANGED,
            {"lead_id": str(chain.lead_id), "from": "new", "to": "touched"},
            AT,
            lead_id=chain.lead_id,
        )
        assert uow.outbox.recorded == [event]
        if commit:
            uow.commit()
    return event.id


def test_an_event_exists_only_if_its_transaction_committed(
    app_connections: FreshConnections, chain: Chain
) -> None:
    kept = record(app_connections, chain, commit=True)
    lost = record(app_connections, chain, commit=False)
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        found = uow.outbox.get([kept, lost])
    assert [e.id for e in found] == [kept]
    assert found[0].envelope()["type"] == "lead.state_changed"
    assert found[0].envelope()["data"]["to"] == "touched"


def test_another_tenant_never_sees_the_event(
    app_connections: FreshConnections, chain: Chain
) -> None:
    kept = record(app_connections, chain, commit=True)
    with UnitOfWork(app_connections, uuid.uuid4()) as uow:
        assert uow.outbox.get([kept]) == []
        with pytest.raises(errors.InsufficientPrivilege):  # RLS refuses an event for another tenant
            uow.outbox.record(chain.tenant_id, EventType.CALL_QUEUED, {}, AT)


@pytest.mark.parametrize(
    ("change", "allowed"),
    [
        ("relayed_at = now()", True),
        ("type = 'call.queued'", False),
        ("occurred_at = now()", False),
        ("lead_id = NULL", False),
        ('data = \'{"to": "closed"}\'', False),
        ("data = '{}'", False),  # emptied without its erasure time
        ("data = '{}', erased_at = now()", True),
    ],
)
def test_only_the_relay_time_and_erasure_change_an_event(
    app_connections: FreshConnections, admin: Connection, chain: Chain, change: str, allowed: bool
) -> None:
    event_id = record(app_connections, chain, commit=True)
    statement = f"UPDATE outbox_events SET {change} WHERE id = %s"
    if allowed:
        admin.execute(statement, (event_id,))
    else:
        with pytest.raises(errors.CheckViolation):
            admin.execute(statement, (event_id,))
    admin.rollback()


def test_erasure_happens_once(
    app_connections: FreshConnections, admin: Connection, chain: Chain
) -> None:
    event_id = record(app_connections, chain, commit=True)
    admin.execute(
        "UPDATE outbox_events SET data = '{}', erased_at = now() WHERE id = %s", (event_id,)
    )
    admin.commit()
    with pytest.raises(errors.CheckViolation):
        admin.execute("UPDATE outbox_events SET erased_at = now() WHERE id = %s", (event_id,))
    admin.rollback()


def test_events_keep_the_order_they_were_recorded_in(
    app_connections: FreshConnections, admin: Connection, chain: Chain
) -> None:
    """One transaction's events share their time: seq (migration 0032) orders them, and
    no one renumbers it."""
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        made = [uow.outbox.record(chain.tenant_id, EventType.CALL_QUEUED, {}, AT) for _ in range(5)]
        uow.commit()
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        assert [e.id for e in uow.outbox.get([e.id for e in reversed(made)])] == [
            e.id for e in made
        ]
    with pytest.raises(errors.GeneratedAlways):
        admin.execute("UPDATE outbox_events SET seq = seq + 1000 WHERE id = %s", (made[0].id,))
    admin.rollback()
    with pytest.raises(errors.CheckViolation):  # even as its default: a fact keeps its place
        admin.execute("UPDATE outbox_events SET seq = DEFAULT WHERE id = %s", (made[0].id,))
    admin.rollback()
