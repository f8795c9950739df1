"""Connections: which server, as which role, and how they are reused.

Three roles talk to the database (see migrations/0001): ``admin`` owns the schema and
runs migrations, ``app`` serves one tenant per transaction, ``jobs`` works across
tenants. Connections never change session state (RDS Proxy would pin them): no
prepared statements, and the tenant is set per transaction (SET LOCAL).

In AWS a connection logs in with its function's secret or an IAM token, over TLS
(``sslmode=require`` unless DB_SSLMODE says otherwise); locally the URL's own settings
hold, with DB_SSLMODE put in when set (see ``DatabaseSettings``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Literal, Protocol

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row

from tether.config import DatabaseSettings, database_settings
from tether.db.errors import translated_errors

DbRole = Literal["admin", "app", "jobs"]
ROLE_NAMES: dict[DbRole, str] = {"app": "tether_app", "jobs": "tether_jobs"}

Connection = psycopg.Connection[DictRow]


def conninfo_for(role: DbRole, settings: DatabaseSettings | None = None) -> str:
    """The connection string for `role` under the current settings."""
    settings = settings or database_settings()
    if settings.in_aws:
        return _aws_conninfo(role, settings)
    admin_url = settings.database_url or _embedded_admin_url(settings)
    explicit = {"app": settings.app_database_url, "jobs": settings.jobs_database_url}
    if role == "admin":
        return _with_tls(admin_url, settings)
    return _with_tls(explicit[role] or as_role(admin_url, ROLE_NAMES[role]), settings)


def as_role(conninfo: str, user: str) -> str:
    """The same server and database, logged in as `user` (without the admin password)."""
    params: dict[str, Any] = conninfo_to_dict(conninfo)
    params.pop("password", None)
    params["user"] = user
    return make_conninfo("", **params)


def connect(conninfo: str, *, autocommit: bool = False, timeout: int = 5) -> Connection:
    return psycopg.connect(
        conninfo,
        autocommit=autocommit,
        prepare_threshold=None,
        row_factory=dict_row,
        connect_timeout=timeout,
        application_name="tether",
    )


class ConnectionSource(Protocol):
    """Hands out a connection for one unit of work and takes it back."""

    def acquire(self) -> Connection: ...

    def release(self, conn: Connection) -> None: ...


class FreshConnections:
    """A new connection per unit of work, closed afterwards: scripts, tests, threads."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo

    def acquire(self) -> Connection:
        with translated_errors():  # a database that does not answer: DependencyUnavailable
            return connect(self.conninfo)

    def release(self, conn: Connection) -> None:
        conn.close()


class ReusedConnection:
    """One connection kept for the life of a Lambda container and reopened if it broke.
    A container handles one invocation at a time, so one connection is enough."""

    def __init__(self, conninfo: str | Callable[[], str]) -> None:
        self._conninfo = conninfo
        self._conn: Connection | None = None

    def acquire(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            conninfo = self._conninfo() if callable(self._conninfo) else self._conninfo
            with translated_errors():  # a database that does not answer: DependencyUnavailable
                self._conn = connect(conninfo)
        return self._conn

    def release(self, conn: Connection) -> None:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with translated_errors():
                conn.rollback()


@lru_cache(maxsize=3)
def lambda_connection(role: DbRole) -> ReusedConnection:
    """The container-wide connection of a Lambda function (opened on first use)."""
    return ReusedConnection(lambda: conninfo_for(role))


def _embedded_admin_url(settings: DatabaseSettings) -> str:
    from tether.db.embedded import start_embedded

    return start_embedded(settings.tether_data_dir, settings.db_name)


def _with_tls(conninfo: str, settings: DatabaseSettings) -> str:
    """A local URL with DB_SSLMODE / DB_SSLROOTCERT put in, when they are set."""
    tls = _tls_parameters(settings, default=None)
    if not tls:
        return conninfo
    params: dict[str, Any] = conninfo_to_dict(conninfo)
    params.update(tls)
    return make_conninfo("", **params)


def _tls_parameters(settings: DatabaseSettings, default: str | None) -> dict[str, str]:
    sslmode = settings.db_sslmode or default
    tls = {"sslmode": sslmode} if sslmode else {}
    if settings.db_sslrootcert:
        tls["sslrootcert"] = settings.db_sslrootcert
    return tls


def _aws_conninfo(role: DbRole, settings: DatabaseSettings) -> str:
    """RDS Proxy (or an instance): TLS unless DB_SSLMODE says otherwise, logged in with
    the function's secret or with an IAM token for its role."""
    tls = _tls_parameters(settings, default="require")
    if settings.db_auth == "iam":
        from tether.aws.rds import iam_auth_token

        user = settings.db_user or ROLE_NAMES.get(role)
        if user is None:
            raise ValueError(f"DB_AUTH=iam: set DB_USER to the database user of the {role} role")
        host = settings.db_host or ""
        return make_conninfo(
            "",
            host=host,
            port=str(settings.db_port),
            dbname=settings.db_name,
            user=user,
            # a fresh token per connection: ReusedConnection asks again when it reopens
            password=iam_auth_token(host, settings.db_port, user),
            **tls,
        )
    return _conninfo_from_secret(settings, tls)


def _conninfo_from_secret(settings: DatabaseSettings, tls: dict[str, str]) -> str:
    # through tether.secrets, not Powertools parameters: that imported boto3 and made a
    # boto3 session of its own, about 100 ms of every cold start in AWS
    from tether.secrets import database_login

    values = json.loads(database_login(settings.db_secret_arn or ""))
    return make_conninfo(
        "",
        host=settings.db_host or values.get("host"),
        port=str(values.get("port") or settings.db_port),
        dbname=values.get("dbname") or settings.db_name,
        user=values["username"],
        password=values["password"],
        **tls,
    )
