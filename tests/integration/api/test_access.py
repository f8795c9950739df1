"""Who may call the API: keys hashed, revocable, found through one narrow policy (each
way of abusing it tried here); the tenant CLI; bodies over 1 MiB; Idempotency-Key."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest
from psycopg import errors as pg

from tests.support.api_client import NOW, Api, Client
from tests.support.api_scenes import build_campaign
from tests.support.factories import MigratedDatabase
from tether.api import context
from tether.db.connection import Connection, FreshConnections, connect
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InProgress
from tether.services import api_idempotency
from tether_dev.__main__ import main


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer tth_unknown", "Bearer not-a-tether-key"],
)
def test_requests_without_a_valid_key_get_401(api: Api, authorization: str | None) -> None:
    api.tenant()
    headers = {"Authorization": authorization} if authorization is not None else {}
    reply = Client(None).get("/v1/campaigns", headers=headers)
    assert reply.status == 401
    assert reply.body["error"] == "unauthenticated"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_only_the_hash_is_stored_and_use_is_noted(api: Api) -> None:
    client = api.tenant()
    assert client.key is not None
    row = api.admin.execute(
        "SELECT key_hash, prefix, last_used_at FROM api_keys WHERE tenant_id = %s",
        (client.tenant_id,),
    ).fetchone()
    assert row is not None
    assert bytes(row["key_hash"]) == hashlib.sha256(client.key.encode()).digest()
    assert client.key.startswith(row["prefix"])
    assert len(row["prefix"]) < len(client.key) / 3
    client.get("/v1/campaigns")
    used = api.admin.execute(
        "SELECT last_used_at FROM api_keys WHERE tenant_id = %s", (client.tenant_id,)
    ).fetchone()
    assert used is not None
    assert used["last_used_at"] is not None


def test_the_lowercase_header_works_too(api: Api) -> None:
    client = api.tenant()
    reply = Client(None).get("/v1/campaigns", headers={"authorization": f"Bearer {client.key}"})
    assert reply.status == 200


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture
def app_conn(test_database: MigratedDatabase) -> Any:
    with connect(test_database.role_url("tether_app")) as conn:
        yield conn


def _scope_key(conn: Connection, key_hash: str) -> None:
    conn.execute("SELECT set_config('app.api_key_hash', %s, true)", (key_hash,))


def test_key_lookup_policy_shows_one_live_key_and_nothing_else(
    api: Api, app_conn: Connection
) -> None:
    first = api.tenant("First")
    second = api.tenant("Second")
    build_campaign(api, first, leads=1)
    extra = first.post("/v1/api-keys", {"name": "second key of first"})
    assert first.key is not None
    assert second.key is not None
    # nothing at all without a hash
    assert app_conn.execute("SELECT * FROM api_keys").fetchall() == []
    app_conn.rollback()
    # with one key's hash: that key, not the tenant's other key, nor another tenant's
    _scope_key(app_conn, _key_hash(first.key))
    rows = app_conn.execute("SELECT tenant_id, name FROM api_keys").fetchall()
    assert [(r["tenant_id"], r["name"]) for r in rows] == [(first.tenant_id, "first key")]
    # and no other table of its tenant opens up
    for table in (
        "campaigns",
        "leads",
        "phone_numbers",
        "provider_accounts",
        "tenants",
        "audit_log",
    ):
        assert app_conn.execute(f"SELECT 1 FROM {table}").fetchall() == [], table
    app_conn.rollback()
    # a key's hash cannot be used to change or remove it
    _scope_key(app_conn, _key_hash(first.key))
    updated = app_conn.execute("UPDATE api_keys SET revoked_at = NULL, name = 'mine'").rowcount
    assert updated == 0
    assert app_conn.execute("DELETE FROM api_keys").rowcount == 0
    app_conn.rollback()
    # a revoked key is invisible even with its hash
    first.post(f"/v1/api-keys/{extra.body['id']}/revoke")
    _scope_key(app_conn, _key_hash(extra.body["key"]))
    assert app_conn.execute("SELECT 1 FROM api_keys").fetchall() == []
    app_conn.rollback()
    # a made-up hash matches nothing; a key's hash cannot insert a key for its tenant
    _scope_key(app_conn, "00" * 32)
    assert app_conn.execute("SELECT 1 FROM api_keys").fetchall() == []
    _scope_key(app_conn, _key_hash(first.key))
    with pytest.raises(pg.InsufficientPrivilege):
        app_conn.execute(
            "INSERT INTO api_keys (tenant_id, name, prefix, key_hash) VALUES (%s, 'x', 'x', %s)",
            (first.tenant_id, b"\x01" * 32),
        )
    app_conn.rollback()


def test_tenant_create_cli_prints_a_working_key_once(
    api: Api,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    test_database: MigratedDatabase,
) -> None:
    from tether.config import database_settings

    monkeypatch.setenv("DATABASE_URL", test_database.admin_url)
    database_settings.cache_clear()
    try:
        assert main(["tenant", "create", "Beta Realty"]) == 0
    finally:
        database_settings.cache_clear()
    printed = capsys.readouterr().out
    key = printed.split("store it now): ")[1].strip()
    assert Client(key).get("/v1/campaigns").status == 200
    name = api.admin.execute(
        "SELECT t.name FROM tenants t JOIN api_keys k ON k.tenant_id = t.id WHERE k.key_hash = %s",
        (hashlib.sha256(key.encode()).digest(),),
    ).fetchone()
    assert name is not None
    assert name["name"] == "Beta Realty"


def test_bodies_over_one_mebibyte_get_413_before_anything_runs(api: Api) -> None:
    client = api.tenant()
    big = {"name": "x" * (1024 * 1024), "pool": "Outreach"}
    reply = client.post("/v1/campaigns", big)
    assert reply.status == 413
    assert reply.body["error"] == "payload_too_large"
    assert client.get("/v1/campaigns").body["items"] == []
    # 413 even without a key: size is checked first
    assert Client(None).post("/v1/campaigns", big).status == 413


def test_malformed_json_is_a_400_naming_the_problem_not_a_500(api: Api) -> None:
    client = api.tenant()
    reply = client.post("/v1/campaigns", raw="{not json")
    assert reply.status == 400
    assert reply.body["error"] == "malformed_body"
    assert "not valid JSON" in reply.body["message"]


def test_idempotency_key_replays_the_first_response(api: Api) -> None:
    client = api.tenant()
    headers = {"Idempotency-Key": "campaign-spring-1"}
    body = {"name": "Spring", "pool": "Outreach"}
    first = client.post("/v1/campaigns", body, headers=headers)
    again = client.post("/v1/campaigns", body, headers=headers)
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/v1/campaigns").body["items"]) == 1
    other = client.post("/v1/campaigns", {"name": "Autumn", "pool": "Outreach"}, headers=headers)
    assert other.status == 409
    assert other.body["error"] == "idempotency_key_reused"
    # keys are per tenant: another tenant's same key is its own
    stranger = api.tenant("Stranger")
    assert stranger.post("/v1/campaigns", body, headers=headers).status == 201


def test_a_failed_request_frees_its_idempotency_key(api: Api) -> None:
    client = api.tenant()
    headers = {"Idempotency-Key": "retry-me"}
    client.post("/v1/campaigns", {"name": "Taken", "pool": "Outreach"})
    failed = client.post("/v1/campaigns", {"name": "Taken", "pool": "Outreach"}, headers=headers)
    assert failed.status == 409
    assert failed.body["error"] == "conflict"
    fixed = client.post("/v1/campaigns", {"name": "Taken", "pool": "Outreach"}, headers=headers)
    assert fixed.status == 409  # still the same conflict: the key was free to try again
    assert "Idempotent-Replayed" not in fixed.headers


def test_concurrent_claims_of_one_key_let_one_request_through(
    api: Api, app_connections: FreshConnections
) -> None:
    """The resolver serves one event at a time (as a Lambda container does), so the
    race is between containers: each claim on its own connection, at once."""
    client = api.tenant()
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        uow = UnitOfWork(app_connections, client.tenant_id)
        barrier.wait()
        try:
            stored = api_idempotency.begin(uow, client.tenant_id, "burst", "same", NOW)
        except InProgress:
            outcomes.append("in_progress")
        else:
            outcomes.append("claimed" if stored is None else "replayed")

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["claimed", "in_progress", "in_progress", "in_progress"]


def test_a_database_that_does_not_answer_is_a_503_to_retry(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = api.tenant()
    down = context.ApiPorts(
        connections=FreshConnections("host=127.0.0.1 port=1 dbname=tether connect_timeout=1"),
        queue=None,
    )
    monkeypatch.setattr(context, "api_ports", lambda: down)
    reply = client.get("/v1/campaigns")
    assert reply.status == 503
    assert reply.body["error"] == "unavailable"
    assert reply.headers["Retry-After"] == "5"
