"""The hard rule, enforced by the database: an outbound message is bound to its
campaign assignment's number, by id and by text, and the binding never changes.
Every attempt goes through plain SQL as the application role."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors as pg

from tests.support.factories import (
    Chain,
    add_number,
    as_tenant,
    insert_message,
    outbound_values,
)
from tether.db.connection import Connection


def test_outbound_from_its_assignments_number_is_stored(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(app, outbound_values(chain))
    row = app.execute(
        "SELECT from_address, our_address FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row == {"from_address": chain.number, "our_address": chain.number}


def test_outbound_from_another_number_of_the_tenant_is_refused(
    app: Connection, admin: Connection, chain: Chain
) -> None:
    other = add_number(
        admin, chain.tenant_id, chain.provider_account_id, "+14155550199", chain.pool
    )
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.ForeignKeyViolation) as refused:
        insert_message(app, outbound_values(chain, from_address="+14155550199"))
    assert refused.value.diag.constraint_name == "messages_bound_to_assignment"
    app.rollback()
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.ForeignKeyViolation):
        insert_message(app, outbound_values(chain, outbound_number_id=other))


def test_outbound_with_an_assignment_of_another_campaign_is_refused(
    app: Connection, admin: Connection, chain: Chain
) -> None:
    other_campaign = admin.execute(
        "INSERT INTO campaigns (tenant_id, name, pool) VALUES (%s, 'other', %s) RETURNING id",
        (chain.tenant_id, chain.pool),
    ).fetchone()["id"]  # type: ignore[index]
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.ForeignKeyViolation):
        insert_message(app, outbound_values(chain, campaign_id=other_campaign))


@pytest.mark.parametrize(
    "missing",
    ["campaign_phone_assignment_id", "outbound_number_id", "campaign_id", "lead_id", "send_key"],
)
def test_outbound_without_its_binding_is_refused(
    app: Connection, chain: Chain, missing: str
) -> None:
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.CheckViolation) as refused:
        insert_message(app, outbound_values(chain, **{missing: None}))
    assert refused.value.diag.constraint_name == "messages_outbound_bound"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("from_address", "+14155550123"),
        ("to_address", "+14155550124"),
        ("outbound_number_id", uuid.uuid4()),
        ("campaign_phone_assignment_id", uuid.uuid4()),
        ("campaign_id", uuid.uuid4()),
        ("send_key", "another-key"),
        ("direction", "inbound"),
    ],
)
def test_binding_cannot_change_after_insert(
    app: Connection, chain: Chain, column: str, value: object
) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(app, outbound_values(chain))
    app.commit()
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.CheckViolation) as refused:
        app.execute(f"UPDATE messages SET {column} = %s WHERE id = %s", (value, message_id))
    assert refused.value.diag.constraint_name == "messages_binding_immutable"


@pytest.mark.parametrize(
    ("assignments", "params"),
    [
        ("body = %s", ("another text",)),
        ("body = ''", ()),
        ("template = %s", ("another",)),
        ("variant = %s", ("B",)),
        ("body = %s, erased_at = now()", ("[redacted]",)),
    ],
)
def test_what_a_message_says_cannot_change_after_insert(
    app: Connection, chain: Chain, assignments: str, params: tuple[object, ...]
) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(app, outbound_values(chain))
    with pytest.raises(pg.CheckViolation) as refused:
        app.execute(f"UPDATE messages SET {assignments} WHERE id = %s", (*params, message_id))
    assert refused.value.diag.constraint_name == "messages_content_immutable"


def test_erasure_empties_the_body_once_and_for_good(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(app, outbound_values(chain))
    app.execute("UPDATE messages SET body = '', erased_at = now() WHERE id = %s", (message_id,))
    assert app.execute("SELECT body FROM messages WHERE id = %s", (message_id,)).fetchone() == {
        "body": ""
    }
    for change in (
        "body = 'back again'",
        "erased_at = NULL",
        "erased_at = now() + interval '1 day'",
    ):
        app.execute("SAVEPOINT again")
        with pytest.raises(pg.CheckViolation):
            app.execute(f"UPDATE messages SET {change} WHERE id = %s", (message_id,))
        app.execute("ROLLBACK TO SAVEPOINT again")


def test_provider_sid_is_set_once_and_status_may_advance(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(app, outbound_values(chain))
    app.execute(
        "UPDATE messages SET provider = 'sandbox', external_id = 'SM1', status = 'sent' WHERE id = %s",
        (message_id,),
    )
    with pytest.raises(pg.CheckViolation):
        app.execute("UPDATE messages SET external_id = 'SM2' WHERE id = %s", (message_id,))


def test_app_role_cannot_delete_a_message(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(app, outbound_values(chain))
    with pytest.raises(pg.InsufficientPrivilege):
        app.execute("DELETE FROM messages WHERE id = %s", (message_id,))


def test_assignment_cannot_be_repointed_to_another_number(
    app: Connection, admin: Connection, chain: Chain
) -> None:
    other = add_number(
        admin, chain.tenant_id, chain.provider_account_id, "+14155550177", chain.pool
    )
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.CheckViolation) as refused:
        app.execute(
            "UPDATE campaign_phone_assignments SET phone_number_id = %s, phone_number = '+14155550177'"
            " WHERE id = %s",
            (other, chain.assignment_id),
        )
    assert refused.value.diag.constraint_name == "campaign_phone_assignments_immutable"


def test_assignment_number_text_must_be_the_inventory_number(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    other_campaign = app.execute(
        "INSERT INTO campaigns (tenant_id, name, pool) VALUES (%s, 'x', %s) RETURNING id",
        (chain.tenant_id, chain.pool),
    ).fetchone()["id"]  # type: ignore[index]
    with pytest.raises(pg.ForeignKeyViolation):
        app.execute(
            "INSERT INTO campaign_phone_assignments (tenant_id, campaign_id, phone_number_id, phone_number)"
            " VALUES (%s, %s, %s, '+14155550100')",
            (chain.tenant_id, other_campaign, chain.number_id),
        )


def test_send_key_and_provider_sid_are_unique(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    insert_message(
        app,
        outbound_values(
            chain, send_key="lead:intro:2026-11-21", provider="sandbox", external_id="SM9"
        ),
    )
    app.execute("SAVEPOINT again")
    with pytest.raises(pg.UniqueViolation) as same_key:
        insert_message(app, outbound_values(chain, send_key="lead:intro:2026-11-21"))
    assert same_key.value.diag.constraint_name == "messages_tenant_id_send_key_key"
    app.execute("ROLLBACK TO SAVEPOINT again")
    with pytest.raises(pg.UniqueViolation) as same_sid:
        insert_message(app, outbound_values(chain, provider="sandbox", external_id="SM9"))
    assert same_sid.value.diag.constraint_name == "messages_provider_external_id_key"


def test_inbound_message_may_be_matched_once_but_not_rematched(
    app: Connection, admin: Connection, chain: Chain
) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(
        app,
        {
            "tenant_id": chain.tenant_id,
            "direction": "inbound",
            "from_address": chain.lead_phone,
            "to_address": chain.number,
            "body": "yes please",
            "status": "received",
        },
    )
    app.execute(
        "UPDATE messages SET lead_id = %s, campaign_id = %s, campaign_phone_assignment_id = %s,"
        " outbound_number_id = %s WHERE id = %s",
        (chain.lead_id, chain.campaign_id, chain.assignment_id, chain.number_id, message_id),
    )
    other_lead = admin.execute(
        "INSERT INTO leads (tenant_id, phone) VALUES (%s, '+14155550111') RETURNING id",
        (chain.tenant_id,),
    ).fetchone()["id"]  # type: ignore[index]
    with pytest.raises(psycopg.errors.CheckViolation):
        app.execute("UPDATE messages SET lead_id = %s WHERE id = %s", (other_lead, message_id))


# Channels (migration 0034): the binding includes the assignment's channel.


def test_an_mms_goes_through_the_numbers_sms_assignment(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    message_id = insert_message(app, outbound_values(chain, channel="mms"))
    row = app.execute(
        "SELECT channel, sender_channel FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row == {"channel": "mms", "sender_channel": "sms"}


def test_a_whatsapp_send_through_an_sms_assignment_is_refused(
    app: Connection, chain: Chain
) -> None:
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.ForeignKeyViolation) as refused:
        insert_message(app, outbound_values(chain, channel="whatsapp"))
    assert refused.value.diag.constraint_name == "messages_bound_to_assignment"


def test_a_whatsapp_send_goes_through_the_numbers_whatsapp_assignment(
    app: Connection, admin: Connection, chain: Chain
) -> None:
    # a WhatsApp sender (migration 0036 refuses a 'whatsapp' assignment of any other)
    admin.execute(
        "UPDATE phone_numbers SET whatsapp_enabled = true WHERE id = %s", (chain.number_id,)
    )
    whatsapp = admin.execute(
        "INSERT INTO campaign_phone_assignments"
        " (tenant_id, campaign_id, phone_number_id, phone_number, channel)"
        " VALUES (%s, %s, %s, %s, 'whatsapp') RETURNING id",
        (chain.tenant_id, chain.campaign_id, chain.number_id, chain.number),
    ).fetchone()["id"]  # type: ignore[index]
    as_tenant(app, chain.tenant_id)
    insert_message(
        app, outbound_values(chain, channel="whatsapp", campaign_phone_assignment_id=whatsapp)
    )
    with pytest.raises(pg.ForeignKeyViolation):  # and no SMS through the WhatsApp one
        insert_message(app, outbound_values(chain, campaign_phone_assignment_id=whatsapp))


def test_tether_sends_no_email(app: Connection, chain: Chain) -> None:
    as_tenant(app, chain.tenant_id)
    with pytest.raises(pg.CheckViolation) as refused:
        insert_message(app, outbound_values(chain, channel="email"))
    assert refused.value.diag.constraint_name == "messages_outbound_channel"


@pytest.mark.parametrize("table", ["messages", "campaign_phone_assignments"])
def test_a_channel_never_changes(
    app: Connection, admin: Connection, chain: Chain, table: str
) -> None:
    as_tenant(app, chain.tenant_id)
    row_id = (
        insert_message(app, outbound_values(chain)) if table == "messages" else chain.assignment_id
    )
    target = "mms" if table == "messages" else "whatsapp"
    with pytest.raises(pg.CheckViolation):
        app.execute(f"UPDATE {table} SET channel = %s WHERE id = %s", (target, row_id))
