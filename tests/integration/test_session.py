"""The Session's round trips on real PostgreSQL: the tenant's scope goes with the
transaction's first statement, and a statement left for later goes with the next one
or the COMMIT; order, atomicity and row-level security are as if each went alone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import make_lead, make_tenant
from tether.db.connection import Connection, FreshConnections, ReusedConnection
from tether.db.session import Session
from tether.domain.errors import ConstraintViolation


class _Waits:
    """A real connection whose waits for the server are counted: each statement outside
    a pipeline, each pipeline (its statements travel together), each COMMIT/ROLLBACK
    sent."""

    def __init__(self, conninfo: str) -> None:
        self.source = ReusedConnection(conninfo)
        self.conn = self.source.acquire()
        self.count = 0
        self._depth = 0
        execute, pipeline, commit = self.conn.execute, self.conn.pipeline, self.conn.commit

        def counted_execute(*args: Any, **kwargs: Any) -> Any:
            if not self._depth:
                self.count += 1
            return execute(*args, **kwargs)

        class _Counted:
            def __enter__(inner) -> Any:
                self._depth += 1
                inner.block = pipeline()
                return inner.block.__enter__()

            def __exit__(inner, *exc: Any) -> Any:
                self._depth -= 1
                self.count += 1
                return inner.block.__exit__(*exc)

        def counted_commit() -> None:
            self.count += 1
            commit()

        self.conn.execute = counted_execute  # type: ignore[method-assign]
        self.conn.pipeline = _Counted  # type: ignore[method-assign,assignment]
        self.conn.commit = counted_commit  # type: ignore[method-assign]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def waits(app_connections: FreshConnections) -> Any:
    counted = _Waits(app_connections.conninfo)
    yield counted
    counted.close()


def _name(admin: Connection, lead_id: object) -> str | None:
    row = admin.execute("SELECT first_name FROM leads WHERE id = %s", (lead_id,)).fetchone()
    assert row is not None
    name: str | None = row["first_name"]
    return name


def test_the_scope_travels_with_the_first_statement(admin: Connection, waits: _Waits) -> None:
    tenant_id, _ = make_tenant(admin)
    theirs, _ = make_tenant(admin)
    ours_lead, their_lead = make_lead(admin, tenant_id), make_lead(admin, theirs)
    session = Session(waits.conn, tenant_id)
    rows = session.execute("SELECT id FROM leads WHERE id = ANY(%s)", ([ours_lead, their_lead],))
    assert [row["id"] for row in rows.fetchall()] == [ours_lead]  # scoped, and only ours
    assert waits.count == 1  # set_config and the statement in one round trip
    session.execute("SELECT 1")
    assert waits.count == 2
    session.rollback()
    waits.count = 0
    assert session.execute("SELECT app_current_tenant() AS t").fetchone() == {"t": tenant_id}
    assert waits.count == 1  # a new transaction is scoped again, in the same round trip


def test_a_statement_left_for_later_goes_with_the_commit(admin: Connection, waits: _Waits) -> None:
    tenant_id, _ = make_tenant(admin)
    lead_id = make_lead(admin, tenant_id)
    session = Session(waits.conn, tenant_id)
    session.execute("SELECT 1")
    waits.count = 0
    session.execute_later("UPDATE leads SET first_name = 'Later' WHERE id = %s", (lead_id,))
    assert _name(admin, lead_id) is None  # not sent yet
    session.commit()
    assert waits.count == 1  # the update and the COMMIT together
    assert _name(admin, lead_id) == "Later"


def test_a_statement_left_for_later_runs_before_the_next_one(
    admin: Connection, waits: _Waits
) -> None:
    tenant_id, _ = make_tenant(admin)
    lead_id = make_lead(admin, tenant_id)
    session = Session(waits.conn, tenant_id)
    session.execute_later("UPDATE leads SET first_name = 'First' WHERE id = %s", (lead_id,))
    session.execute_later(
        "UPDATE leads SET first_name = first_name || ' then' WHERE id = %s", (lead_id,)
    )
    row = session.execute("SELECT first_name FROM leads WHERE id = %s", (lead_id,)).fetchone()
    assert row == {"first_name": "First then"}  # in order, scoped, before this statement
    assert waits.count == 1
    session.rollback()  # and a rollback takes them back with the rest
    assert _name(admin, lead_id) is None


def test_a_rollback_drops_what_was_left_for_later(admin: Connection, waits: _Waits) -> None:
    tenant_id, _ = make_tenant(admin)
    lead_id = make_lead(admin, tenant_id)
    session = Session(waits.conn, tenant_id)
    session.execute("SELECT 1")
    session.execute_later("UPDATE leads SET first_name = 'Never' WHERE id = %s", (lead_id,))
    session.rollback()
    session.execute("SELECT 1")
    session.commit()
    assert _name(admin, lead_id) is None


def test_a_later_statements_error_raises_at_the_commit_and_nothing_is_written(
    admin: Connection, waits: _Waits
) -> None:
    tenant_id, _ = make_tenant(admin)
    lead_id = make_lead(admin, tenant_id)
    session = Session(waits.conn, tenant_id)
    session.execute("UPDATE leads SET first_name = 'Kept?' WHERE id = %s", (lead_id,))
    # new -> in_call_queue is no allowed move (the transition trigger refuses it)
    session.execute_later("UPDATE leads SET state = 'in_call_queue' WHERE id = %s", (lead_id,))
    with pytest.raises(ConstraintViolation):
        session.commit()
    waits.conn.rollback()
    assert _name(admin, lead_id) is None
