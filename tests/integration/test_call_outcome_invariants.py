"""What the database itself holds of call outcomes (migration 0038), each tried: a call
is recorded once per tenant and provider, the app can neither change nor delete the
record, only an unmatched call lacks a lead, an applied one names its lease, a booked
one its appointment, and another tenant's rows are neither visible nor writable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg import errors

from tests.support.factories import Chain, as_tenant, make_chain
from tether.db.connection import Connection

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def row(chain: Chain, **overrides: Any) -> dict[str, Any]:
    return {
        "tenant_id": chain.tenant_id,
        "receipt_id": uuid.uuid4(),
        "provider": "vapi",
        "call_id": f"call-{uuid.uuid4()}",
        "outcome": "no_booking",
        "provider_status": "customer-ended-call",
        "occurred_at": NOW,
        "state": "lease_released",
        "lead_id": chain.lead_id,
        **overrides,
    }


def insert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(
        f"INSERT INTO call_outcomes ({', '.join(values)})"
        f" VALUES ({', '.join(f'%({k})s' for k in values)})",
        values,
    )


@pytest.fixture
def chain(admin: Connection) -> Chain:
    return make_chain(admin)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"state": "unmatched"}, errors.CheckViolation),  # a lead, yet unmatched
        ({"lead_id": None}, errors.CheckViolation),  # no lead, yet matched
        ({"outcome": "booked"}, errors.CheckViolation),  # booked without its time
        ({"state": "applied"}, errors.CheckViolation),  # applied to no lease
        ({"outcome": "maybe"}, errors.CheckViolation),
        ({"call_id": " "}, errors.CheckViolation),
        ({"lead_id": uuid.uuid4()}, errors.ForeignKeyViolation),
    ],
    ids=[
        "unmatched-lead",
        "matched-no-lead",
        "booked-no-time",
        "applied-no-lease",
        "outcome",
        "blank-call",
        "unknown-lead",
    ],
)
def test_a_call_record_that_breaks_a_rule_is_refused(
    app: Connection, chain: Chain, overrides: dict[str, Any], error: type[Exception]
) -> None:
    as_tenant(app, chain.tenant_id)
    with pytest.raises(error):
        insert(app, row(chain, **overrides))


def test_a_call_is_recorded_once_and_the_app_can_neither_change_nor_delete_it(
    app: Connection, chain: Chain
) -> None:
    as_tenant(app, chain.tenant_id)
    first = row(chain)
    insert(app, first)
    app.commit()
    as_tenant(app, chain.tenant_id)
    with pytest.raises(errors.UniqueViolation):
        insert(app, row(chain, call_id=first["call_id"], receipt_id=uuid.uuid4()))
    app.rollback()
    for statement in (
        "UPDATE call_outcomes SET state = 'applied' WHERE call_id = %s",
        "DELETE FROM call_outcomes WHERE call_id = %s",
    ):
        as_tenant(app, chain.tenant_id)
        with pytest.raises(errors.InsufficientPrivilege):
            app.execute(statement, (first["call_id"],))
        app.rollback()


def test_another_tenants_call_records_are_invisible_and_unwritable(
    admin: Connection, app: Connection, chain: Chain
) -> None:
    theirs = make_chain(admin)
    insert(admin, row(theirs))
    as_tenant(app, chain.tenant_id)
    assert (
        app.execute(
            "SELECT * FROM call_outcomes WHERE tenant_id = %s", (theirs.tenant_id,)
        ).fetchall()
        == []
    )
    with pytest.raises(errors.InsufficientPrivilege):
        insert(app, row(theirs))
