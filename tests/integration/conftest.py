"""Integration fixtures: a real PostgreSQL database per test session (per xdist worker),
migrated from migrations/, and connections as each of the three roles.

The server is the one in DATABASE_URL, or the embedded one when it is unset. Tests
never share rows: each test makes its own tenants.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.integration.factories import Chain, MigratedDatabase, make_chain
from tether.config import DatabaseSettings
from tether.db.connection import Connection, FreshConnections, connect
from tether.db.embedded import create_database, drop_database, start_embedded
from tether.db.migrations import apply_pending


def _server_url() -> str:
    settings = DatabaseSettings()
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.tether_data_dir, "postgres")


def _with_database(url: str, database: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = database
    return make_conninfo("", **params)


@pytest.fixture(scope="session")
def test_database() -> Iterator[MigratedDatabase]:
    server_url = _server_url()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"tether_test_{worker}_{uuid.uuid4().hex[:8]}"
    create_database(server_url, name)
    database = MigratedDatabase(server_url, _with_database(server_url, name))
    apply_pending(conninfo=database.admin_url)
    yield database
    drop_database(server_url, name)


@pytest.fixture
def fresh_database(test_database: MigratedDatabase) -> Iterator[str]:
    """An empty, unmigrated database of its own (for migration tests)."""
    name = f"tether_fresh_{uuid.uuid4().hex[:12]}"
    create_database(test_database.server_url, name)
    yield _with_database(test_database.server_url, name)
    drop_database(test_database.server_url, name)


@pytest.fixture
def admin(test_database: MigratedDatabase) -> Iterator[Connection]:
    """The schema owner (a superuser on the embedded server), autocommit: for seeding."""
    with connect(test_database.admin_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def app_connections(test_database: MigratedDatabase) -> FreshConnections:
    return FreshConnections(test_database.role_url("tether_app"))


@pytest.fixture
def jobs_connections(test_database: MigratedDatabase) -> FreshConnections:
    return FreshConnections(test_database.role_url("tether_jobs"))


@pytest.fixture
def app(test_database: MigratedDatabase) -> Iterator[Connection]:
    """A plain connection as tether_app, autocommit off: the test sets the tenant."""
    with connect(test_database.role_url("tether_app")) as conn:
        yield conn


@pytest.fixture
def chain(admin: Connection) -> Chain:
    """A fresh tenant with one campaign, its primary number and one lead."""
    return make_chain(admin)
