"""Migration 0008's two row-level-security policies, attacked as the application role:
the account lookup a webhook makes before it knows its tenant, and audit rows that
belong to no tenant."""

from __future__ import annotations

import pytest
from psycopg import errors as pg

from tests.support.factories import Chain, as_tenant, make_chain
from tests.support.tenancy import TENANT_TABLES
from tether.db.connection import Connection, FreshConnections


@pytest.fixture
def ours(admin: Connection) -> Chain:
    return make_chain(admin)


@pytest.fixture
def theirs(admin: Connection) -> Chain:
    chain = make_chain(admin)
    # rows of every kind a webhook session could be curious about
    admin.execute(
        "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider, idempotency_key,"
        " event_type, raw_body) VALUES (%s, %s, 'sandbox', %s, 'inbound_message', '{}')",
        (chain.tenant_id, chain.provider_account_id, f"sandbox:{chain.provider_account_id}:m1"),
    )
    admin.execute(
        "INSERT INTO audit_log (tenant_id, kind) VALUES (%s, 'access_denied')", (chain.tenant_id,)
    )
    return chain


def lookup(conn: Connection, account_id: object) -> Connection:
    conn.execute("SELECT set_config('app.provider_account_id', %s, true)", (str(account_id),))
    return conn


def test_the_lookup_setting_shows_that_one_account_and_nothing_else(
    app: Connection, ours: Chain, theirs: Chain
) -> None:
    lookup(app, theirs.provider_account_id)
    accounts = app.execute("SELECT id, tenant_id FROM provider_accounts").fetchall()
    assert accounts == [{"id": theirs.provider_account_id, "tenant_id": theirs.tenant_id}]
    for table in TENANT_TABLES:
        if table != "provider_accounts":
            count = app.execute(f"SELECT count(*) AS n FROM {table}").fetchone()
            assert count == {"n": 0}, table


def test_the_lookup_setting_cannot_change_or_delete_the_account(
    app: Connection, theirs: Chain
) -> None:
    lookup(app, theirs.provider_account_id)
    assert app.execute("UPDATE provider_accounts SET name = 'mallory'").rowcount == 0
    assert app.execute("DELETE FROM provider_accounts").rowcount == 0
    with pytest.raises(pg.InsufficientPrivilege):
        app.execute(
            "INSERT INTO provider_accounts (tenant_id, provider, name) VALUES (%s, 'twilio', 'x')",
            (theirs.tenant_id,),
        )


def test_the_lookup_setting_adds_one_account_to_a_tenant_session_and_no_other_row(
    app: Connection, ours: Chain, theirs: Chain
) -> None:
    as_tenant(app, ours.tenant_id)
    lookup(app, theirs.provider_account_id)
    accounts = {r["id"] for r in app.execute("SELECT id FROM provider_accounts").fetchall()}
    assert accounts == {ours.provider_account_id, theirs.provider_account_id}
    tenants = {r["tenant_id"] for r in app.execute("SELECT tenant_id FROM leads").fetchall()}
    assert tenants == {ours.tenant_id}
    receipts = app.execute("SELECT count(*) AS n FROM webhook_receipts").fetchone()
    assert receipts == {"n": 0}


def test_the_lookup_setting_ends_with_the_transaction(app: Connection, theirs: Chain) -> None:
    lookup(app, theirs.provider_account_id)
    assert app.execute("SELECT count(*) AS n FROM provider_accounts").fetchone() == {"n": 1}
    app.commit()
    assert app.execute("SELECT count(*) AS n FROM provider_accounts").fetchone() == {"n": 0}


def test_a_setting_that_is_not_an_id_fails_rather_than_matching(
    app: Connection, theirs: Chain
) -> None:
    lookup(app, "' OR true --")
    with pytest.raises(pg.InvalidTextRepresentation):
        app.execute("SELECT * FROM provider_accounts").fetchall()


def test_tenantless_audit_rows_can_be_written_but_not_read_back(
    app: Connection, jobs_connections: FreshConnections, ours: Chain
) -> None:
    app.execute("INSERT INTO audit_log (kind, subject_id) VALUES ('webhook_rejected', 'probe-1')")
    app.commit()
    as_tenant(app, ours.tenant_id)
    hidden = app.execute("SELECT count(*) AS n FROM audit_log WHERE subject_id = 'probe-1'")
    assert hidden.fetchone() == {"n": 0}
    jobs = jobs_connections.acquire()
    try:
        seen = jobs.execute("SELECT tenant_id FROM audit_log WHERE subject_id = 'probe-1'")
        assert seen.fetchall() == [{"tenant_id": None}]
    finally:
        jobs_connections.release(jobs)


def test_audit_rows_still_cannot_be_written_for_another_tenant(
    app: Connection, ours: Chain, theirs: Chain
) -> None:
    with pytest.raises(pg.InsufficientPrivilege):  # no tenant set
        app.execute(
            "INSERT INTO audit_log (tenant_id, kind) VALUES (%s, 'forged')", (theirs.tenant_id,)
        )
    app.rollback()
    as_tenant(app, ours.tenant_id)
    with pytest.raises(pg.InsufficientPrivilege):
        app.execute(
            "INSERT INTO audit_log (tenant_id, kind) VALUES (%s, 'forged')", (theirs.tenant_id,)
        )


def test_a_rotation_needs_an_end(admin: Connection, ours: Chain) -> None:
    with pytest.raises(pg.CheckViolation):
        admin.execute(
            "UPDATE provider_accounts SET previous_signing_secret_ref = 'local:old' WHERE id = %s",
            (ours.provider_account_id,),
        )
