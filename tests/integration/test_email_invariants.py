"""Migration 0037's invariants, each tried: reply mailboxes (format, one tenant each,
the lookup that shows a mail's tenant and nothing more), reply tokens, email-only
message fields, and receipts without a provider account only for mail."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.support.factories import make_chain, make_tenant
from tether.db.connection import Connection


def mailbox() -> str:
    return f"replies@r{uuid.uuid4().hex[:10]}.acme.test"


@pytest.mark.parametrize(
    "bad", ["Replies@acme.test", "replies+tag@acme.test", "replies@acme", "@acme.test", " r@a.test"]
)
def test_a_reply_mailbox_is_a_lower_case_address_without_a_tag(admin: Connection, bad: str) -> None:
    tenant_id, _ = make_tenant(admin)
    with pytest.raises(psycopg.errors.CheckViolation):
        admin.execute(
            "UPDATE tenant_config SET reply_mailbox = %s WHERE tenant_id = %s", (bad, tenant_id)
        )


def test_a_reply_mailbox_belongs_to_one_tenant(admin: Connection) -> None:
    (first, _), (second, _) = make_tenant(admin), make_tenant(admin)
    taken = mailbox()
    admin.execute(
        "UPDATE tenant_config SET reply_mailbox = %s WHERE tenant_id = %s", (taken, first)
    )
    with pytest.raises(psycopg.errors.UniqueViolation):
        admin.execute(
            "UPDATE tenant_config SET reply_mailbox = %s WHERE tenant_id = %s", (taken, second)
        )


def test_the_mailbox_lookup_shows_its_tenant_and_nothing_else(
    admin: Connection, app: Connection
) -> None:
    (first, _), (second, _) = make_tenant(admin), make_tenant(admin)
    mine, theirs = mailbox(), mailbox()
    for tenant_id, address in ((first, mine), (second, theirs)):
        admin.execute(
            "UPDATE tenant_config SET reply_mailbox = %s WHERE tenant_id = %s", (address, tenant_id)
        )
        admin.execute(
            "INSERT INTO leads (tenant_id, phone) VALUES (%s, '+14155550143')", (tenant_id,)
        )
    with app.transaction():
        # no tenant, no mailbox named: nothing
        assert app.execute("SELECT tenant_id FROM tenant_config").fetchall() == []
        app.execute("SELECT set_config('app.reply_mailbox', %s, true)", (mine,))
        rows = app.execute("SELECT tenant_id, reply_mailbox FROM tenant_config").fetchall()
        assert rows == [{"tenant_id": first, "reply_mailbox": mine}]
        # naming the mailbox opens no other table of its tenant
        assert app.execute("SELECT id FROM leads").fetchall() == []
    with app.transaction():
        app.execute("SELECT set_config('app.reply_mailbox', '', true)")
        assert app.execute("SELECT tenant_id FROM tenant_config").fetchall() == []


def test_reply_tokens_are_unique_within_a_tenant_and_of_their_form(admin: Connection) -> None:
    chain = make_chain(admin)
    token = admin.execute(
        "SELECT reply_token FROM leads WHERE id = %s", (chain.lead_id,)
    ).fetchone()
    assert token is not None
    with pytest.raises(psycopg.errors.UniqueViolation):
        admin.execute(
            "INSERT INTO leads (tenant_id, phone, reply_token) VALUES (%s, '+14155550144', %s)",
            (chain.tenant_id, token["reply_token"]),
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        admin.execute("UPDATE leads SET reply_token = 'ab+cd' WHERE id = %s", (chain.lead_id,))


def test_only_an_email_message_has_a_message_id_and_subject(admin: Connection) -> None:
    chain = make_chain(admin)
    thread = admin.execute(
        "INSERT INTO threads (tenant_id, channel, our_address, their_address)"
        " VALUES (%s, 'sms', %s, %s) RETURNING id",
        (chain.tenant_id, chain.number, chain.lead_phone),
    ).fetchone()
    assert thread is not None
    with pytest.raises(psycopg.errors.CheckViolation):
        admin.execute(
            "INSERT INTO messages (tenant_id, direction, thread_id, from_address, to_address,"
            " provider, external_id, status, channel, subject)"
            " VALUES (%s, 'inbound', %s, %s, %s, 'sandbox', %s, 'received', 'sms', 'Hi')",
            (chain.tenant_id, thread["id"], chain.lead_phone, chain.number, uuid.uuid4().hex),
        )


def test_a_receipt_without_a_provider_account_is_only_a_mails(admin: Connection) -> None:
    chain = make_chain(admin)
    insert = (
        "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider, idempotency_key,"
        " event_type, raw_body) VALUES (%s, NULL, %s, %s, 'unknown', '')"
    )
    admin.execute(insert, (chain.tenant_id, "ses", f"ses:{uuid.uuid4()}"))
    with pytest.raises(psycopg.errors.CheckViolation):
        admin.execute(insert, (chain.tenant_id, "sandbox", f"sandbox:{uuid.uuid4()}"))
