"""Every statement, commit and rollback through the session raises domain errors, never
the driver's: the repositories need no handling of their own, and no edge imports the
driver to map its errors. Real PostgreSQL, real refusals."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors as pg

from tests.support.factories import Chain, MigratedDatabase
from tether.db.connection import Connection, FreshConnections, ReusedConnection, connect
from tether.db.errors import CONFLICT_WORDS, INVALID_VALUE, UNNAMED_CONFLICT
from tether.db.session import Session
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import (
    Conflict,
    ConstraintViolation,
    DependencyUnavailable,
    InvalidValue,
)


@pytest.fixture
def owner(test_database: MigratedDatabase) -> Iterator[Connection]:
    """The schema owner in a transaction (rolled back): the owner meets every
    constraint and trigger, and may make a table of its own."""
    with connect(test_database.admin_url) as conn:
        yield conn
        if not conn.closed:
            conn.rollback()


def test_a_duplicate_from_any_statement_is_a_conflict_in_words(
    chain: Chain, app: Connection
) -> None:
    session = Session(app, chain.tenant_id)
    with pytest.raises(Conflict) as refused:
        # no repository knows this statement: the session translates it all the same
        session.execute(
            "INSERT INTO campaigns SELECT * FROM campaigns WHERE id = %s", (chain.campaign_id,)
        )
    assert refused.value.constraint == "campaigns_pkey"
    assert str(refused.value) == CONFLICT_WORDS["campaigns_pkey"]
    assert isinstance(refused.value.__cause__, pg.UniqueViolation)


@pytest.mark.parametrize(
    ("statement", "says"),
    [
        ("UPDATE leads SET phone = NULL WHERE id = %(lead)s", "phone is required"),
        (
            "UPDATE leads SET tenant_id = gen_random_uuid() WHERE id = %(lead)s",
            "it refers to something that does not exist",
        ),
        ("TRUNCATE lead_events CASCADE", ""),  # the append-only trigger's own words
    ],
    ids=["not null", "foreign key", "trigger"],
)
def test_a_broken_rule_is_a_constraint_violation_saying_which(
    chain: Chain, owner: Connection, statement: str, says: str
) -> None:
    session = Session(owner, None)
    with pytest.raises(ConstraintViolation) as refused:
        session.execute(statement, {"lead": chain.lead_id})
    assert not isinstance(refused.value, Conflict)
    assert says in str(refused.value)
    assert isinstance(refused.value.__cause__, psycopg.IntegrityError)


@pytest.mark.parametrize(
    ("statement", "value"),
    [
        ("SELECT %s::smallint", 70_000),
        ("SELECT %s::uuid", "not-a-uuid"),
        ("SELECT %s::text", "a NUL \x00 in a text"),
        ("SELECT %s::text", "a lone surrogate \ud800"),
    ],
    ids=["out of range", "not a uuid", "nul", "surrogate"],
)
def test_a_value_the_database_cannot_hold_is_invalid_value(
    owner: Connection, statement: str, value: object
) -> None:
    with pytest.raises(InvalidValue, match=INVALID_VALUE):
        Session(owner, None).execute(statement, (value,))


def test_a_database_that_gives_up_is_unavailable(owner: Connection) -> None:
    session = Session(owner, None)
    session.execute("SET LOCAL statement_timeout = '20ms'")
    with pytest.raises(DependencyUnavailable, match="QueryCanceled"):
        session.execute("SELECT pg_sleep(2)")
    session.rollback()
    with pytest.raises(DependencyUnavailable, match="the database is unavailable"):
        session.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def test_a_database_that_does_not_answer_is_unavailable_on_connect() -> None:
    nowhere = "host=127.0.0.1 port=1 dbname=tether connect_timeout=1"
    with pytest.raises(DependencyUnavailable):
        FreshConnections(nowhere).acquire()
    with pytest.raises(DependencyUnavailable), UnitOfWork(ReusedConnection(nowhere)):
        pass


def test_tethers_own_mistake_stays_the_drivers_error(owner: Connection) -> None:
    """A bug in Tether's SQL is nobody's input: it stays a 500 with its traceback."""
    with pytest.raises(pg.UndefinedTable):
        Session(owner, None).execute("SELECT * FROM no_such_table")


def test_a_violation_found_at_commit_is_a_conflict(test_database: MigratedDatabase) -> None:
    with UnitOfWork(FreshConnections(test_database.admin_url)) as uow:
        uow.connection.execute(
            "CREATE TEMP TABLE probe (k int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
        )
        uow.connection.execute("INSERT INTO probe VALUES (1), (1)")  # checked at commit
        with pytest.raises(Conflict, match=UNNAMED_CONFLICT):
            uow.commit()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    number=st.integers(min_value=-(2**40), max_value=2**40),
    text=st.text(max_size=12),
)
def test_whatever_a_statement_is_given_it_raises_only_domain_errors(
    owner: Connection, number: int, text: str
) -> None:
    """Any int and any text (NULs, lone surrogates, too long) into a table with a range,
    a check, a length, a NOT NULL and a unique key: refused with the domain error that
    says why. A driver error never gets out."""
    session = Session(owner, None)
    session.execute(
        "CREATE TEMP TABLE IF NOT EXISTS probe_values"
        " (n smallint CHECK (n <> 13), s varchar(8) NOT NULL UNIQUE)"
    )
    unstorable = (
        "\x00" in text
        or any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        or not -(2**15) <= number < 2**15
        or len(text) > 8
    )
    expected = InvalidValue if unstorable else ConstraintViolation if number == 13 else Conflict

    def insert_twice() -> None:
        for _ in range(2):
            session.execute("INSERT INTO probe_values VALUES (%s, %s)", (number, text))

    session.execute("SAVEPOINT probe")
    try:
        with pytest.raises((ConstraintViolation, InvalidValue)) as refused:
            insert_twice()
    finally:
        session.execute("ROLLBACK TO SAVEPOINT probe")
    assert type(refused.value) is expected, (number, text, refused.value)
