"""schema.sql is the schema the migrations make, and tether_tenant_table puts a new
table under the same forced row-level security as the tenant tables before it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from psycopg import errors as pg

from tests.support.factories import Chain, MigratedDatabase, as_tenant, make_chain
from tether.db.connection import Connection, as_role, connect
from tether.db.embedded import create_database, drop_database
from tether.db.migrations import apply_pending
from tether_dev.schema import SCHEMA_FILE, committed_major, dump_schema, server_major
from tether_dev.scratch import with_database


def test_schema_sql_is_what_the_migrations_make(fresh_database: str) -> None:
    apply_pending(conninfo=fresh_database)
    committed = SCHEMA_FILE.read_text()
    major = server_major(fresh_database)
    if committed_major(committed) != major:
        pytest.skip(f"schema.sql was dumped from another PostgreSQL major than {major}")
    assert dump_schema(fresh_database) == committed, (
        "schema.sql is stale: run `make schema` and commit it"
    )


def test_the_dump_leaves_out_what_varies_between_machines(fresh_database: str) -> None:
    apply_pending(conninfo=fresh_database)
    dumped = dump_schema(fresh_database)
    database = fresh_database.split("dbname=")[-1].split()[0]
    assert database.startswith("tether_fresh_")
    assert database not in dumped
    assert "Dumped from" not in dumped
    assert "\\restrict" not in dumped
    assert "OWNER TO" not in dumped
    assert "CREATE POLICY tenant_isolation ON public.leads" in dumped


PROBE = "probe_notes"


@pytest.fixture(scope="module")
def probe_database(test_database: MigratedDatabase) -> Iterator[str]:
    """A migrated database of its own with one table put under the helper, so the
    session's database keeps exactly the tables the migrations make."""
    name = f"tether_probe_{uuid.uuid4().hex[:12]}"
    create_database(test_database.server_url, name)
    url = with_database(test_database.server_url, name)
    try:
        apply_pending(conninfo=url)
        with connect(url, autocommit=True) as admin:
            admin.execute(
                f"CREATE TABLE {PROBE} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
                " tenant_id uuid NOT NULL REFERENCES tenants (id), body text NOT NULL)"
            )
            admin.execute("SELECT tether_tenant_table(%s)", (PROBE,))
            admin.execute(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON {PROBE} TO tether_app, tether_jobs"
            )
        yield url
    finally:
        drop_database(test_database.server_url, name)


@pytest.fixture
def probe_admin(probe_database: str) -> Iterator[Connection]:
    with connect(probe_database, autocommit=True) as conn:
        yield conn


@pytest.fixture
def probe_app(probe_database: str) -> Iterator[Connection]:
    with connect(as_role(probe_database, "tether_app")) as conn:
        yield conn


def _note(admin: Connection, chain: Chain) -> uuid.UUID:
    row = admin.execute(
        f"INSERT INTO {PROBE} (tenant_id, body) VALUES (%s, 'private') RETURNING id",
        (chain.tenant_id,),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row["id"]))


def test_a_helper_table_hides_another_tenants_rows(
    probe_admin: Connection, probe_app: Connection
) -> None:
    ours, theirs = make_chain(probe_admin), make_chain(probe_admin)
    our_note, their_note = _note(probe_admin, ours), _note(probe_admin, theirs)
    as_tenant(probe_app, ours.tenant_id)
    visible = {r["id"] for r in probe_app.execute(f"SELECT id FROM {PROBE}").fetchall()}
    assert visible == {our_note}
    changed = probe_app.execute(f"UPDATE {PROBE} SET body = 'x' WHERE id = %s", (their_note,))
    assert changed.rowcount == 0
    deleted = probe_app.execute(f"DELETE FROM {PROBE} WHERE id = %s", (their_note,))
    assert deleted.rowcount == 0
    with pytest.raises(pg.InsufficientPrivilege):  # the policy's WITH CHECK
        probe_app.execute(
            f"INSERT INTO {PROBE} (tenant_id, body) VALUES (%s, 'planted')", (theirs.tenant_id,)
        )


def test_a_helper_table_shows_nothing_without_a_tenant(
    probe_admin: Connection, probe_app: Connection
) -> None:
    _note(probe_admin, make_chain(probe_admin))
    assert probe_app.execute(f"SELECT count(*) AS n FROM {PROBE}").fetchone() == {"n": 0}


def test_a_helper_table_is_seen_whole_by_the_jobs_role(
    probe_database: str, probe_admin: Connection
) -> None:
    ours, theirs = make_chain(probe_admin), make_chain(probe_admin)
    notes = {_note(probe_admin, ours), _note(probe_admin, theirs)}
    with connect(as_role(probe_database, "tether_jobs")) as jobs:
        seen = {r["id"] for r in jobs.execute(f"SELECT id FROM {PROBE}").fetchall()}
    assert notes <= seen


def _policies(admin: Connection, table: str) -> list[tuple[object, ...]]:
    rows = admin.execute(
        "SELECT policyname, permissive, roles::text[] AS roles, cmd, qual, with_check"
        " FROM pg_policies WHERE schemaname = 'public' AND tablename = %s"
        " AND policyname IN ('tenant_isolation', 'jobs_all_tenants') ORDER BY policyname",
        (table,),
    ).fetchall()
    return [tuple(r.values()) for r in rows]


def test_the_helper_gives_the_policies_every_tenant_table_has(probe_admin: Connection) -> None:
    tenant_tables = [
        r["relname"]
        for r in probe_admin.execute(
            "SELECT relname FROM pg_class c WHERE relkind = 'r'"
            " AND relnamespace = 'public'::regnamespace AND relname <> %s"
            " AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = c.oid"
            "             AND attname = 'tenant_id' AND NOT attisdropped)",
            (PROBE,),
        ).fetchall()
    ]
    # the blocks of 0006, 0007, 0009, 0010, 0012 and 0014 among them
    assert {"leads", "lead_sender_bindings", "number_daily_segments", "escalation_steps"} <= set(
        tenant_tables
    )
    made = _policies(probe_admin, PROBE)
    assert [p[0] for p in made] == ["jobs_all_tenants", "tenant_isolation"]
    for table in tenant_tables:
        assert _policies(probe_admin, table) == made, table
    forced = probe_admin.execute(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
        (PROBE,),
    ).fetchone()
    assert forced == {"relrowsecurity": True, "relforcerowsecurity": True}


def test_the_helper_refuses_a_table_without_a_tenant(probe_admin: Connection) -> None:
    table = f"probe_untenanted_{uuid.uuid4().hex[:8]}"
    probe_admin.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    try:
        with pytest.raises(pg.UndefinedColumn, match="has no tenant_id column"):
            probe_admin.execute("SELECT tether_tenant_table(%s)", (table,))
        secured = probe_admin.execute(
            "SELECT relrowsecurity FROM pg_class WHERE oid = %s::regclass", (table,)
        ).fetchone()
        assert secured == {"relrowsecurity": False}
    finally:
        probe_admin.execute(f"DROP TABLE {table}")


@pytest.mark.parametrize("role", ["tether_app", "tether_jobs"])
def test_only_the_schema_owner_may_use_the_helper(probe_database: str, role: str) -> None:
    with (
        connect(as_role(probe_database, role)) as conn,
        pytest.raises(pg.InsufficientPrivilege),
    ):
        conn.execute("SELECT tether_tenant_table('leads')")
