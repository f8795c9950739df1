"""API keys (issues 13 and 24): scopes per route, lineage and audit, no key stored
anywhere, failed lookups throttled per source and logged without key characters, and
send keys that belong to their tenant."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from psycopg import errors as pg
from psycopg import sql

from tests.support.api_client import NOW, Api, Client, proxy_event
from tests.support.api_scenes import SANDBOX_CREDENTIALS, build_campaign
from tests.support.lambda_context import LambdaContextStub
from tether.api import context
from tether.db.connection import Connection
from tether.domain.api_keys import PREFIX_LENGTH
from tether.observability import logger
from tether.services.api_keys import FAILURES_PER_MINUTE


def issue(client: Client, scope: str, name: str | None = None) -> Client:
    reply = client.post("/v1/api-keys", {"name": name or f"{scope} key", "scope": scope})
    assert reply.status == 201, reply
    assert reply.body["scope"] == scope
    return Client(reply.body["key"], client.tenant_id)


# --- scopes


def test_a_read_key_reads_and_is_refused_with_403_on_a_write_route(api: Api) -> None:
    admin = api.tenant()
    reader = issue(admin, "read")
    assert reader.get("/v1/campaigns").status == 200
    refused = reader.post("/v1/campaigns", {"name": "Spring", "pool": "Outreach"})
    assert refused.status == 403
    assert refused.body["error"] == "forbidden"
    assert "write" in refused.body["message"]
    assert admin.get("/v1/campaigns").body["items"] == []  # nothing was written


def test_a_write_key_works_but_is_refused_on_admin_routes(api: Api) -> None:
    admin = api.tenant()
    writer = issue(admin, "write")
    assert writer.post("/v1/campaigns", {"name": "Spring", "pool": "Outreach"}).status == 201
    assert writer.post("/v1/api-keys", {"name": "mine", "scope": "read"}).status == 403
    assert writer.request("PATCH", "/v1/settings", {"timezone": "UTC"}).status == 403
    assert writer.get("/v1/api-keys").status == 403
    account = {"provider": "sandbox", "name": "x", "credentials": SANDBOX_CREDENTIALS}
    assert writer.post("/v1/provider-accounts", account).status == 403
    registered = admin.post("/v1/provider-accounts", account)
    assert registered.status == 201, registered
    rotation = {"credentials": SANDBOX_CREDENTIALS}
    rotate = f"/v1/provider-accounts/{registered.body['id']}/secrets"
    assert writer.request("PUT", rotate, rotation).status == 403
    assert writer.get("/v1/settings").status == 200


def test_the_first_key_is_admin_and_new_keys_record_their_issuer(api: Api) -> None:
    admin = api.tenant()
    writer_reply = admin.post("/v1/api-keys", {"name": "sync", "scope": "write"})
    listed = {k["id"]: k for k in admin.get("/v1/api-keys").body["items"]}
    first = next(k for k in listed.values() if k["created_by_key_id"] is None)
    assert first["scope"] == "admin"
    assert first["last_used_at"] is not None  # this very listing used it
    child = listed[writer_reply.body["id"]]
    assert child["created_by_key_id"] == first["id"]
    assert child["last_used_at"] is None
    Client(writer_reply.body["key"], admin.tenant_id).get("/v1/campaigns")
    used = {k["id"]: k for k in admin.get("/v1/api-keys").body["items"]}
    assert used[child["id"]]["last_used_at"] is not None
    unknown = admin.post("/v1/api-keys", {"name": "x", "scope": "root"})
    assert unknown.status == 422


def test_the_database_keeps_a_key_within_its_issuers_scope(api: Api) -> None:
    """The trigger of migration 0019, tried directly: a read key cannot be the issuer of
    an admin key, a revoked key issues nothing, a key's scope never changes."""
    admin = api.tenant()
    reader = admin.post("/v1/api-keys", {"name": "r", "scope": "read"}).body
    tenant = admin.tenant_id
    insert = (
        "INSERT INTO api_keys (tenant_id, name, prefix, key_hash, scope, created_by_key_id)"
        " VALUES (%s, 'x', 'tth_x', %s, %s, %s)"
    )
    with pytest.raises(pg.CheckViolation) as above:
        api.admin.execute(insert, (tenant, b"\x01" * 32, "admin", reader["id"]))
    assert above.value.diag.constraint_name == "api_keys_scope_within_issuer"
    api.admin.execute(insert, (tenant, b"\x02" * 32, "read", reader["id"]))  # equal: fine
    with pytest.raises(pg.CheckViolation):
        api.admin.execute("UPDATE api_keys SET scope = 'admin' WHERE id = %s", (reader["id"],))
    admin.post(f"/v1/api-keys/{reader['id']}/revoke")
    with pytest.raises(pg.CheckViolation):
        api.admin.execute(insert, (tenant, b"\x03" * 32, "read", reader["id"]))


def test_revoking_leaves_children_unless_asked_and_the_audit_log_shows_lineage(
    api: Api,
) -> None:
    root = api.tenant()
    middle_reply = root.post("/v1/api-keys", {"name": "middle", "scope": "admin"}).body
    middle = Client(middle_reply["key"], root.tenant_id)
    leaf_reply = middle.post("/v1/api-keys", {"name": "leaf", "scope": "read"}).body
    leaf = Client(leaf_reply["key"], root.tenant_id)
    sibling = issue(root, "read", "sibling")

    root.post(f"/v1/api-keys/{middle_reply['id']}/revoke")
    assert middle.get("/v1/campaigns").status == 401
    assert leaf.get("/v1/campaigns").status == 200  # its issuer's revocation left it

    second = issue(root, "admin", "second")
    grandchild = issue(issue(second, "admin", "child"), "read", "grandchild")
    revoked = root.post(
        f"/v1/api-keys/{_key_id(api, second)}/revoke", query={"descendants": "true"}
    )
    assert revoked.status == 200
    assert second.get("/v1/campaigns").status == 401
    assert grandchild.get("/v1/campaigns").status == 401
    assert sibling.get("/v1/campaigns").status == 200

    audit = api.audit_rows(root.tenant_id, "api_key_issued")
    issued = {row["subject_id"]: row for row in audit}
    assert issued[leaf_reply["id"]]["detail"]["created_by_key_id"] == middle_reply["id"]
    assert len(audit) == 1 + 6  # the first key and six more
    revocations = api.audit_rows(root.tenant_id, "api_key_revoked")
    assert len(revocations) == 1 + 3  # middle; then second, its child and grandchild
    assert [r["detail"]["scope"] for r in revocations].count("read") == 1


def _key_id(api: Api, client: Client) -> str:
    from tether.domain.api_keys import hash_key

    assert client.key is not None
    row = api.admin.execute(
        "SELECT id FROM api_keys WHERE key_hash = %s", (hash_key(client.key),)
    ).fetchone()
    assert row is not None
    return str(row["id"])


# --- no key stored anywhere


def _columns(admin: Connection) -> list[tuple[str, str, str]]:
    rows = admin.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public'"
        " AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'bytea')"
        " AND table_name IN (SELECT table_name FROM information_schema.tables"
        "  WHERE table_schema = 'public' AND table_type = 'BASE TABLE')"
    ).fetchall()
    return [(r["table_name"], r["column_name"], r["data_type"]) for r in rows]


def test_no_api_key_secret_is_stored_in_any_column(api: Api) -> None:
    client = api.tenant()
    keys = [client.key]
    plain = client.post("/v1/api-keys", {"name": "plain", "scope": "write"})
    keys.append(plain.body["key"])
    headers = {"Idempotency-Key": "key-once"}
    first = client.post("/v1/api-keys", {"name": "idem", "scope": "read"}, headers=headers)
    assert first.status == 201
    assert first.body["key"].startswith("tth_")
    keys.append(first.body["key"])
    replay = client.post("/v1/api-keys", {"name": "idem", "scope": "read"}, headers=headers)
    assert replay.status == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.body["key"] is None
    assert replay.body["id"] == first.body["id"]
    assert replay.body["prefix"] == first.body["prefix"]
    client.post(f"/v1/api-keys/{first.body['id']}/revoke")
    after = client.post("/v1/api-keys", {"name": "idem", "scope": "read"}, headers=headers)
    assert after.body["key"] is None

    columns = _columns(api.admin)
    assert ("api_idempotency", "response", "jsonb") in columns
    assert len(columns) > 40
    for key in keys:
        assert key is not None
        secret = key[PREFIX_LENGTH:]  # past what lists show
        needles = [secret, secret[:16], secret[-16:]]
        for table, column, data_type in columns:
            as_text = (
                sql.SQL("encode({}, 'escape')") if data_type == "bytea" else sql.SQL("{}::text")
            ).format(sql.Identifier(column))
            query = sql.SQL("SELECT count(*) AS n FROM {} WHERE {} LIKE ANY(%s)").format(
                sql.Identifier(table), as_text
            )
            found = api.admin.execute(query, ([f"%{n}%" for n in needles],)).fetchone()
            assert found is not None
            assert found["n"] == 0, f"a key's secret is in {table}.{column}"


# --- failed lookups


def _call(key: str, source: str, path: str = "/v1/campaigns") -> dict[str, Any]:
    import functions.api.app as api_app

    event = proxy_event("GET", path, {"Authorization": f"Bearer {key}"}, None)
    event["requestContext"]["identity"]["sourceIp"] = source
    response: dict[str, Any] = api_app.handler(event, LambdaContextStub(function_name="tether-api"))
    return response


def test_failed_lookups_past_the_threshold_get_429_with_retry_after(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = api.tenant()
    assert client.key is not None
    guess = "tth_" + "A" * 43
    for _ in range(FAILURES_PER_MINUTE):
        assert _call(guess, "203.0.113.9")["statusCode"] == 401
    throttled = _call(guess, "203.0.113.9")
    assert throttled["statusCode"] == 429
    assert throttled["headers"]["Retry-After"] == "60"  # NOW is on the minute
    assert json.loads(throttled["body"])["error"] == "too_many_failures"
    # the source is refused even with a good key, for the rest of the minute
    assert _call(client.key, "203.0.113.9")["statusCode"] == 429
    # another source is not
    assert _call(client.key, "198.51.100.7")["statusCode"] == 200
    assert _call(guess, "198.51.100.7")["statusCode"] == 401
    count = api.admin.execute(
        "SELECT failures FROM api_auth_failures WHERE source = '203.0.113.9'"
    ).fetchone()
    assert count is not None
    assert count["failures"] == FAILURES_PER_MINUTE
    # the next minute starts over
    later = dataclasses.replace(context.api_ports(), now=lambda: NOW + timedelta(seconds=61))
    monkeypatch.setattr(context, "api_ports", lambda: later)
    assert _call(client.key, "203.0.113.9")["statusCode"] == 200


def test_a_failed_lookup_logs_no_character_of_the_key(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log line as the function's logger formats and writes it."""
    api.tenant()
    written = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", written)
    near_miss = "tth_Zq7XkP2mWv9RtY4uLs8NbC3dFg6HjE1aKo5iQw0eTrU"
    assert _call(near_miss, "192.0.2.44")["statusCode"] == 401
    logged = written.getvalue()
    lines = [line for line in logged.splitlines() if "API key refused" in line]
    assert len(lines) == 1
    assert json.loads(lines[0])["source"] == "192.0.2.44"
    secret = near_miss.removeprefix("tth_")
    pieces = {secret[i : i + 4] for i in range(len(secret) - 3)}
    assert not [piece for piece in pieces if piece in logged]


# --- send keys per tenant


def test_two_tenants_use_the_same_send_key_and_a_reuse_is_a_409_in_words(api: Api) -> None:
    first, second = api.tenant("First"), api.tenant("Second")
    first_scene = build_campaign(api, first, leads=2)
    second_scene = build_campaign(api, second, leads=1)
    message = {"body": "Are you free Tuesday?", "send_key": "tuesday-1"}
    sent_first = first.post(
        "/v1/messages",
        {**message, "campaign_id": first_scene.campaign_id, "lead_id": first_scene.lead_ids[0]},
    )
    sent_second = second.post(
        "/v1/messages",
        {**message, "campaign_id": second_scene.campaign_id, "lead_id": second_scene.lead_ids[0]},
    )
    assert sent_first.status == sent_second.status == 202
    assert sent_second.body["duplicate"] is False  # nothing tells B that A used the key
    assert sent_first.body["message_id"] != sent_second.body["message_id"]
    reused = first.post(
        "/v1/messages",
        {**message, "campaign_id": first_scene.campaign_id, "lead_id": first_scene.lead_ids[1]},
    )
    assert reused.status == 409
    assert reused.body["message"] == (
        "this send key was already used for another lead or campaign; choose another key"
    )
    assert "_key" not in json.dumps(reused.body)


def test_a_409_names_the_conflict_in_words(api: Api) -> None:
    client = api.tenant()
    assert client.post("/v1/campaigns", {"name": "Spring", "pool": "Outreach"}).status == 201
    again = client.post("/v1/campaigns", {"name": "Spring", "pool": "Outreach"})
    assert again.status == 409
    assert again.body["message"] == "a campaign with this name exists already; choose another name"
    assert "campaigns_" not in json.dumps(again.body)


def test_a_refused_scope_claims_no_idempotency_key(api: Api) -> None:
    """The scope is checked before the route's own middlewares: a read key's POST leaves
    no Idempotency-Key record behind, so the key is free for a proper retry."""
    admin = api.tenant()
    reader = issue(admin, "read")
    headers = {"Idempotency-Key": "spring-once"}
    body = {"name": "Spring", "pool": "Outreach"}
    assert reader.post("/v1/campaigns", body, headers=headers).status == 403
    stored = api.admin.execute(
        "SELECT count(*) AS n FROM api_idempotency WHERE tenant_id = %s", (admin.tenant_id,)
    ).fetchone()
    assert stored is not None
    assert stored["n"] == 0
    assert admin.post("/v1/campaigns", body, headers=headers).status == 201
