"""The database's own invariants (DESIGN.md, 2 to 6), each attacked through plain SQL
as the application role. The hard rule has its own file, isolation too."""

from __future__ import annotations

import pytest
from psycopg import errors as pg

from tests.support.factories import (
    Chain,
    add_lead,
    add_number,
    as_tenant,
    insert_message,
    outbound_values,
)
from tether.db.connection import Connection
from tether.domain.lead_state import LeadState, transition_pairs
from tether.domain.message_status import STATUS_RANKS

# 3. receipts and events are unique; events only grow


def test_webhook_receipt_idempotency_key_is_unique(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    insert = (
        "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider, idempotency_key,"
        " event_type, raw_body) VALUES (%s, %s, 'sandbox', 'sandbox:msg_1', 'inbound_message', '{}')"
    )
    app.execute(insert, (chain.tenant_id, chain.provider_account_id))
    with pytest.raises(pg.UniqueViolation):
        app.execute(insert, (chain.tenant_id, chain.provider_account_id))


def test_lead_event_dedupe_key_is_unique(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    insert = "INSERT INTO lead_events (tenant_id, lead_id, event_type, dedupe_key) VALUES (%s, %s, 'SMS_RECEIVED', 'SM1')"
    app.execute(insert, (chain.tenant_id, chain.lead_id))
    with pytest.raises(pg.UniqueViolation):
        app.execute(insert, (chain.tenant_id, chain.lead_id))


@pytest.mark.parametrize(
    "statement", ["UPDATE lead_events SET event_type = 'X'", "DELETE FROM lead_events"]
)
def test_lead_events_refuse_update_and_delete(
    app: Connection, admin: Connection, chain: Chain, statement: str
) -> None:
    admin.execute(
        "INSERT INTO lead_events (tenant_id, lead_id, event_type) VALUES (%s, %s, 'CREATED')",
        (chain.tenant_id, chain.lead_id),
    )
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.InsufficientPrivilege):
        app.execute(statement + " WHERE lead_id = %s", (chain.lead_id,))
    # and not even the owner may, whatever its privileges
    with pytest.raises(pg.CheckViolation) as refused:
        admin.execute(statement + " WHERE lead_id = %s", (chain.lead_id,))
    assert refused.value.diag.constraint_name == "lead_events_append_only"


def test_lead_events_refuse_truncate_even_by_the_owner(admin: Connection) -> None:
    with pytest.raises(pg.CheckViolation):
        admin.execute("TRUNCATE lead_events CASCADE")


def test_audit_log_is_append_only(admin: Connection, chain: Chain) -> None:
    admin.execute(
        "INSERT INTO audit_log (tenant_id, kind) VALUES (%s, 'access_denied')", (chain.tenant_id,)
    )
    with pytest.raises(pg.CheckViolation):
        admin.execute("DELETE FROM audit_log WHERE tenant_id = %s", (chain.tenant_id,))


# 4. the lead state machine


def test_database_and_python_share_one_transition_table(app: Connection) -> None:
    rows = app.execute(
        "SELECT from_state::text, to_state::text FROM lead_state_transitions"
    ).fetchall()
    assert {(r["from_state"], r["to_state"]) for r in rows} == transition_pairs()
    enum = app.execute("SELECT unnest(enum_range(NULL::lead_state))::text AS state").fetchall()
    assert [r["state"] for r in enum] == [s.value for s in LeadState]


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["touched"], "new"),
        (["touched"], "in_call_queue"),
        (["suppressed"], "new"),
        (["closed", "suppressed"], "closed"),
        (["responded", "high_intent"], "email_captured"),
    ],
)
def test_invalid_transition_is_refused(
    app: Connection, chain: Chain, path: list[str], refused: str
) -> None:
    as_tenant(app, chain.tenant_id)
    for state in path:
        app.execute("UPDATE leads SET state = %s WHERE id = %s", (state, chain.lead_id))
    with pytest.raises(pg.CheckViolation) as error:
        app.execute("UPDATE leads SET state = %s WHERE id = %s", (refused, chain.lead_id))
    assert error.value.diag.constraint_name == "lead_state_transition"


def test_every_state_can_be_suppressed(app: Connection, admin: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    main_line = [
        "new",
        "touched",
        "responded",
        "email_captured",
        "high_intent",
        "in_call_queue",
        "closed",
    ]
    for index, state in enumerate(main_line):
        lead_id = add_lead(admin, chain)
        for step in main_line[1 : index + 1]:
            app.execute("UPDATE leads SET state = %s WHERE id = %s", (step, lead_id))
        app.execute("UPDATE leads SET state = 'suppressed' WHERE id = %s", (lead_id,))
        row = app.execute("SELECT state::text FROM leads WHERE id = %s", (lead_id,)).fetchone()
        assert row == {"state": "suppressed"}, state


def test_nobody_can_add_another_way_out_of_suppressed(admin: Connection) -> None:
    with pytest.raises(pg.CheckViolation) as error:
        admin.execute("INSERT INTO lead_state_transitions VALUES ('suppressed', 'new')")
    assert error.value.diag.constraint_name == "lead_state_one_way_out_of_suppressed"


@pytest.mark.parametrize("role", ["app", "admin"])
def test_a_plain_update_out_of_suppressed_is_refused(
    app: Connection, admin: Connection, chain: Chain, role: str
) -> None:
    """The one way out (to responded) needs a proven re-subscribe event: the owner's
    plain UPDATE is refused as well as the application's (tests/integration/
    test_resubscribe.py tries the forged events)."""
    as_tenant(app, chain.tenant_id)
    app.execute("UPDATE leads SET state = 'suppressed' WHERE id = %s", (chain.lead_id,))
    app.commit()
    conn = app if role == "app" else admin
    if role == "app":
        as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.CheckViolation) as error:
        conn.execute("UPDATE leads SET state = 'responded' WHERE id = %s", (chain.lead_id,))
    assert error.value.diag.constraint_name == "lead_resubscribe"


def test_app_role_cannot_edit_the_transition_table(app: Connection) -> None:
    with pytest.raises(pg.InsufficientPrivilege):
        app.execute("INSERT INTO lead_state_transitions VALUES ('closed', 'new')")


# 5. one primary per campaign; leases


def test_second_primary_assignment_is_refused(
    app: Connection, admin: Connection, chain: Chain
) -> None:
    second = add_number(
        admin, chain.tenant_id, chain.provider_account_id, "+14155550188", chain.pool
    )
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.UniqueViolation) as refused:
        app.execute(
            "INSERT INTO campaign_phone_assignments (tenant_id, campaign_id, phone_number_id, phone_number, is_primary)"
            " VALUES (%s, %s, %s, '+14155550188', true)",
            (chain.tenant_id, chain.campaign_id, second),
        )
    assert refused.value.diag.constraint_name == "cpa_one_primary_per_campaign_channel"
    app.rollback()
    as_tenant(app, chain.tenant_id)
    app.execute(  # a rotation number is fine
        "INSERT INTO campaign_phone_assignments (tenant_id, campaign_id, phone_number_id, phone_number, is_primary)"
        " VALUES (%s, %s, %s, '+14155550188', false)",
        (chain.tenant_id, chain.campaign_id, second),
    )


_LEASE = (
    "UPDATE phone_numbers SET assignment_status = 'assigned', currently_assigned_to = %s,"
    " assigned_at = now(), release_at = now() + interval '18 hours' WHERE id = %s"
)


def test_a_leased_number_cannot_be_handed_to_another_lead(
    app: Connection, admin: Connection, chain: Chain
) -> None:
    other_lead = add_lead(admin, chain)
    as_tenant(app, chain.tenant_id)
    app.execute(_LEASE, (chain.lead_id, chain.number_id))
    with pytest.raises(pg.CheckViolation) as refused:
        app.execute(_LEASE, (other_lead, chain.number_id))
    assert refused.value.diag.constraint_name == "phone_numbers_single_lease"


def test_a_lead_holds_one_lease_per_pool(app: Connection, admin: Connection, chain: Chain) -> None:
    second = add_number(
        admin, chain.tenant_id, chain.provider_account_id, "+14155550166", chain.pool
    )
    elsewhere = add_number(
        admin, chain.tenant_id, chain.provider_account_id, "+14155550167", "Other Broker"
    )
    as_tenant(app, chain.tenant_id)
    app.execute(_LEASE, (chain.lead_id, chain.number_id))
    app.execute("SAVEPOINT s")
    with pytest.raises(pg.UniqueViolation) as refused:
        app.execute(_LEASE, (chain.lead_id, second))
    assert refused.value.diag.constraint_name == "phone_numbers_one_lease_per_lead_per_pool"
    app.execute("ROLLBACK TO SAVEPOINT s")
    app.execute(_LEASE, (chain.lead_id, elsewhere))  # another pool is another lease


def test_lease_columns_stay_consistent(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.CheckViolation) as refused:
        app.execute(
            "UPDATE phone_numbers SET currently_assigned_to = %s WHERE id = %s",
            (chain.lead_id, chain.number_id),
        )
    assert refused.value.diag.constraint_name == "phone_numbers_lease_consistent"


# 6. one active timer per (lead, type)


def test_one_active_timer_per_lead_and_type(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    insert = (
        "INSERT INTO lead_timers (tenant_id, lead_id, timer_type, trigger_at)"
        " VALUES (%s, %s, 'TIMER_7D', now() + interval '7 days')"
    )
    app.execute(insert, (chain.tenant_id, chain.lead_id))
    app.execute("SAVEPOINT s")
    with pytest.raises(pg.UniqueViolation):
        app.execute(insert, (chain.tenant_id, chain.lead_id))
    app.execute("ROLLBACK TO SAVEPOINT s")
    # seed 002's upsert moves the active timer instead
    app.execute(
        insert
        + " ON CONFLICT (lead_id, timer_type) WHERE executed_at IS NULL AND cancelled_at IS NULL"
        " DO UPDATE SET trigger_at = EXCLUDED.trigger_at",
        (chain.tenant_id, chain.lead_id),
    )
    app.execute("UPDATE lead_timers SET cancelled_at = now() WHERE lead_id = %s", (chain.lead_id,))
    app.execute(insert, (chain.tenant_id, chain.lead_id))  # a cancelled one is history
    count = app.execute(
        "SELECT count(*) AS n FROM lead_timers WHERE lead_id = %s", (chain.lead_id,)
    ).fetchone()
    assert count == {"n": 2}


# delivery statuses never regress


def test_database_and_python_share_one_status_table(app: Connection) -> None:
    rows = app.execute("SELECT status, rank, terminal FROM message_statuses").fetchall()
    assert {r["status"]: (r["rank"], r["terminal"]) for r in rows} == {
        status.value: (rank.rank, rank.terminal) for status, rank in STATUS_RANKS.items()
    }


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        (["sent", "delivered"], "sent"),
        (["failed"], "delivered"),
        (["delivered"], "undelivered"),
        (["delivered", "read"], "delivered"),
        (["queued"], "accepted"),
    ],
)
def test_status_never_regresses(
    app: Connection, chain: Chain, path: list[str], refused: str
) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(app, outbound_values(chain))
    for status in path:
        app.execute("UPDATE messages SET status = %s WHERE id = %s", (status, message_id))
    with pytest.raises(pg.CheckViolation) as error:
        app.execute("UPDATE messages SET status = %s WHERE id = %s", (refused, message_id))
    assert error.value.diag.constraint_name == "messages_status_monotonic"


# seed 004's housekeeping: UTC, updated_at, the conversation overview


def test_sessions_read_times_in_utc(app: Connection) -> None:
    assert app.execute("SELECT current_setting('TimeZone') AS tz").fetchone() == {"tz": "UTC"}


def test_updated_at_follows_every_update(admin: Connection, chain: Chain) -> None:
    admin.execute("UPDATE leads SET first_name = 'Ada' WHERE id = %s", (chain.lead_id,))
    row = admin.execute(
        "SELECT created_at < updated_at AS moved FROM leads WHERE id = %s", (chain.lead_id,)
    ).fetchone()
    assert row == {"moved": True}


def test_conversation_overview_counts_a_thread(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    thread_id = app.execute(
        "INSERT INTO threads (tenant_id, our_address, their_address, lead_id, campaign_id)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (chain.tenant_id, chain.number, chain.lead_phone, chain.lead_id, chain.campaign_id),
    ).fetchone()["id"]  # type: ignore[index]
    insert_message(app, outbound_values(chain, thread_id=thread_id))
    insert_message(app, outbound_values(chain, thread_id=thread_id))
    insert_message(
        app,
        {
            "tenant_id": chain.tenant_id,
            "direction": "inbound",
            "thread_id": thread_id,
            "from_address": chain.lead_phone,
            "to_address": chain.number,
            "status": "received",
            "received_at": "2026-11-21T10:00:00Z",
        },
    )
    row = app.execute(
        "SELECT message_count, inbound_count, outbound_count, workspace_stage::text AS stage"
        " FROM conversation_overview WHERE thread_id = %s",
        (thread_id,),
    ).fetchone()
    assert row == {
        "message_count": 3,
        "inbound_count": 1,
        "outbound_count": 2,
        "stage": "initial_message",
    }
