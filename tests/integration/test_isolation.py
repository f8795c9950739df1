"""7. A row of one tenant is invisible to another tenant's session: row-level security,
forced, with an application role that owns nothing."""

from __future__ import annotations

import pytest
from psycopg import errors as pg

from tests.support.factories import (
    Chain,
    as_tenant,
    insert_message,
    make_chain,
    outbound_values,
)
from tests.support.tenancy import TENANT_TABLES
from tether.db.connection import Connection, FreshConnections


@pytest.fixture
def ours(admin: Connection) -> Chain:
    return make_chain(admin)


@pytest.fixture
def theirs(admin: Connection) -> Chain:
    return make_chain(admin)


def test_every_tenant_table_has_forced_row_level_security(admin: Connection) -> None:
    rows = admin.execute(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
        " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        " AND (relname = 'tenants' OR EXISTS (SELECT 1 FROM pg_attribute"
        "      WHERE attrelid = pg_class.oid AND attname = 'tenant_id' AND NOT attisdropped))"
    ).fetchall()
    assert sorted(r["relname"] for r in rows) == sorted(TENANT_TABLES)
    assert all(r["relrowsecurity"] and r["relforcerowsecurity"] for r in rows)


def test_application_roles_own_nothing(admin: Connection) -> None:
    owned = admin.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
        " WHERE r.rolname IN ('tether_app', 'tether_jobs')"
    ).fetchall()
    assert owned == []
    bypass = admin.execute(
        "SELECT rolname FROM pg_roles WHERE rolname IN ('tether_app', 'tether_jobs')"
        " AND (rolsuper OR rolbypassrls)"
    ).fetchall()
    assert bypass == []


def test_another_tenants_rows_are_invisible(app: Connection, ours: Chain, theirs: Chain) -> None:
    as_tenant(app, theirs.tenant_id)
    insert_message(app, outbound_values(theirs))
    app.commit()
    as_tenant(app, ours.tenant_id)
    for table, key in [
        ("leads", theirs.lead_id),
        ("campaigns", theirs.campaign_id),
        ("tenants", theirs.tenant_id),
    ]:
        row = app.execute(f"SELECT 1 FROM {table} WHERE id = %s", (key,)).fetchone()
        assert row is None, table
    visible = app.execute("SELECT DISTINCT tenant_id FROM messages").fetchall()
    assert all(r["tenant_id"] == ours.tenant_id for r in visible)
    overview = app.execute("SELECT DISTINCT tenant_id FROM conversation_overview").fetchall()
    assert all(r["tenant_id"] == ours.tenant_id for r in overview)


def test_another_tenants_rows_cannot_be_changed(
    app: Connection, ours: Chain, theirs: Chain
) -> None:
    as_tenant(app, ours.tenant_id)
    changed = app.execute(
        "UPDATE leads SET first_name = 'Mallory' WHERE id = %s", (theirs.lead_id,)
    )
    assert changed.rowcount == 0
    deleted = app.execute("DELETE FROM campaigns WHERE id = %s", (theirs.campaign_id,))
    assert deleted.rowcount == 0


def test_rows_cannot_be_written_into_another_tenant(
    app: Connection, ours: Chain, theirs: Chain
) -> None:
    as_tenant(app, ours.tenant_id)
    with pytest.raises(pg.InsufficientPrivilege):  # the policy's WITH CHECK
        app.execute(
            "INSERT INTO leads (tenant_id, phone) VALUES (%s, '+14155550101')", (theirs.tenant_id,)
        )


def test_a_message_cannot_borrow_another_tenants_assignment(
    app: Connection, ours: Chain, theirs: Chain
) -> None:
    as_tenant(app, ours.tenant_id)
    with pytest.raises(pg.ForeignKeyViolation):
        insert_message(
            app,
            outbound_values(
                ours,
                campaign_phone_assignment_id=theirs.assignment_id,
                outbound_number_id=theirs.number_id,
                from_address=theirs.number,
            ),
        )


def test_no_tenant_set_sees_nothing(app: Connection, ours: Chain) -> None:
    for table in TENANT_TABLES:
        count = app.execute(f"SELECT count(*) AS n FROM {table}").fetchone()
        assert count == {"n": 0}, table


def test_the_tenant_setting_ends_with_the_transaction(app: Connection, ours: Chain) -> None:
    as_tenant(app, ours.tenant_id)
    assert app.execute("SELECT count(*) AS n FROM leads").fetchone() == {"n": 1}
    app.commit()
    assert app.execute("SELECT count(*) AS n FROM leads").fetchone() == {"n": 0}


def test_jobs_role_sees_every_tenant(
    jobs_connections: FreshConnections, ours: Chain, theirs: Chain
) -> None:
    conn = jobs_connections.acquire()
    try:
        tenants = {r["tenant_id"] for r in conn.execute("SELECT tenant_id FROM leads").fetchall()}
        assert {ours.tenant_id, theirs.tenant_id} <= tenants
    finally:
        jobs_connections.release(conn)
