"""The connection string each setting makes: a local URL (TLS as the URL or DB_SSLMODE
says), and RDS Proxy with an IAM token (TLS required, a token per connection). The
secret-auth and TLS modes are exercised against a real TLS server in
tests/integration/test_connection_settings.py."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError

from tether.aws.clients import forget_every_client
from tether.config import DatabaseSettings
from tether.db.connection import conninfo_for

URL = "postgresql://postgres:secret@db.example.com:5433/tether"
PROXY = "tether.proxy-abc123.us-east-1.rds.amazonaws.com"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The function's credentials, as Lambda sets them (the token is signed locally)."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example",
    }.items():
        monkeypatch.setenv(name, value)
    # a session made for other credentials would sign the token with them
    forget_every_client()
    yield
    forget_every_client()


def params(conninfo: str) -> dict[str, str]:
    return {k: str(v) for k, v in conninfo_to_dict(conninfo).items()}


def test_a_local_url_is_kept_as_it_is_when_no_tls_setting_is_made() -> None:
    settings = DatabaseSettings(database_url=URL)
    admin, app = params(conninfo_for("admin", settings)), params(conninfo_for("app", settings))
    assert "sslmode" not in admin  # libpq's own default (prefer)
    assert (admin["host"], admin["port"], admin["user"]) == ("db.example.com", "5433", "postgres")
    assert (app["user"], app.get("password")) == ("tether_app", None)


@pytest.mark.parametrize("mode", ["disable", "prefer", "require", "verify-full"])
def test_db_sslmode_is_put_into_every_roles_local_url(mode: str) -> None:
    settings = DatabaseSettings(
        database_url=f"{URL}?sslmode=require",
        jobs_database_url="host=127.0.0.1 user=jobs_login",
        db_sslmode=mode,
        db_sslrootcert="/etc/ssl/ca.pem",
    )
    for role in ("admin", "app", "jobs"):
        found = params(conninfo_for(role, settings))
        assert (found["sslmode"], found["sslrootcert"]) == (mode, "/etc/ssl/ca.pem"), role


def test_an_unknown_sslmode_is_refused_with_the_modes_libpq_knows() -> None:
    with pytest.raises(ValidationError, match="verify-full"):
        DatabaseSettings(database_url=URL, db_sslmode="on")


def test_iam_auth_logs_in_as_the_role_with_a_fresh_token_over_tls(
    aws_credentials: None,
) -> None:
    settings = DatabaseSettings(db_auth="iam", db_host=PROXY, db_port=5432, db_name="tether")
    first = params(conninfo_for("app", settings))
    assert (first["host"], first["port"], first["dbname"]) == (PROXY, "5432", "tether")
    assert (first["user"], first["sslmode"]) == ("tether_app", "require")
    token = urlsplit(f"https://{first['password']}")
    assert token.netloc == f"{PROXY}:5432"
    query = parse_qs(token.query)
    assert query["Action"] == ["connect"]
    assert query["DBUser"] == ["tether_app"]
    assert query["X-Amz-Expires"] == ["900"]  # 15 minutes: reconnecting asks again
    assert "AKIAEXAMPLE" in query["X-Amz-Credential"][0]
    assert params(conninfo_for("jobs", settings))["user"] == "tether_jobs"


def test_iam_auth_for_the_owner_needs_its_user_named(aws_credentials: None) -> None:
    settings = DatabaseSettings(db_auth="iam", db_host=PROXY)
    with pytest.raises(ValueError, match="DB_USER"):
        conninfo_for("admin", settings)
    named = DatabaseSettings(db_auth="iam", db_host=PROXY, db_user="tether_owner")
    assert params(conninfo_for("admin", named))["user"] == "tether_owner"


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_iam_auth_without_tls_is_refused(mode: str) -> None:
    with pytest.raises(ValidationError, match="only over TLS"):
        DatabaseSettings(db_auth="iam", db_host=PROXY, db_sslmode=mode)


def test_iam_auth_without_a_host_is_refused() -> None:
    with pytest.raises(ValidationError, match="DB_HOST"):
        DatabaseSettings(db_auth="iam")


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_SSLMODE", "verify-full")
    monkeypatch.setenv("DB_AUTH", "iam")
    monkeypatch.setenv("DB_HOST", PROXY)
    settings = DatabaseSettings()
    assert (settings.db_sslmode, settings.db_auth, settings.in_aws) == ("verify-full", "iam", True)
