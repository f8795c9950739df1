"""Provider secrets belong to Tether (issue 13): clients hand over values, Tether keeps
them in (moto's) Secrets Manager under the tenant's path, and no tenant can register or
read another tenant's secret, by ARN, by name or by path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from tests.support.api_client import NOW, Api, Client
from tether.config import stage_settings
from tether.providers import ProviderError, ProviderErrorKind
from tether.secrets import (
    PREVIOUS_VERSION,
    TENANT_TAG,
    SecretRefused,
    clear_secret_cache,
    resolve_secret,
)
from tether.services.outbound import account_provider

TWILIO = {"account_sid": "AC0123456789abcdef", "auth_token": "a-twilio-auth-token"}


@pytest.fixture
def reader(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions' resolver reading moto's Secrets Manager."""
    monkeypatch.setattr("tether.aws.clients.aws_client", lambda service: api.secretsmanager)
    clear_secret_cache()
    yield
    clear_secret_cache()


def register(client: Client, name: str = "Twilio main", **body: Any) -> Any:
    return client.post(
        "/v1/provider-accounts",
        {"provider": "twilio", "name": name, "credentials": TWILIO,
         "signing_secret": "whsec-signing", **body},
    )  # fmt: skip


def refs(api: Api, account_id: str) -> dict[str, Any]:
    row = api.admin.execute(
        "SELECT tenant_id, credentials_ref, signing_secret_ref, previous_signing_secret_ref,"
        " previous_secret_expires_at FROM provider_accounts WHERE id = %s",
        (account_id,),
    ).fetchone()
    assert row is not None
    return row


def secrets_under(api: Api, prefix: str) -> list[str]:
    listed = api.secretsmanager.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])
    return sorted(s["Name"] for s in listed["SecretList"] if s["Name"].startswith(prefix))


def test_values_go_to_secrets_manager_under_the_tenant_path_and_never_to_the_database(
    api: Api,
) -> None:
    client = api.tenant()
    made = register(client)
    assert made.status == 201, made
    assert (made.body["has_credentials"], made.body["has_signing_secret"]) == (True, True)
    account_id = made.body["id"]
    path = f"tether/local/tenants/{client.tenant_id}/provider-accounts/{account_id}"
    row = refs(api, account_id)
    assert row["credentials_ref"] == f"{path}/credentials"
    assert row["signing_secret_ref"] == f"{path}/signing-secret"
    stored = api.secretsmanager.get_secret_value(SecretId=row["credentials_ref"])
    assert json.loads(stored["SecretString"]) == TWILIO
    tags = api.secretsmanager.describe_secret(SecretId=row["credentials_ref"])["Tags"]
    assert {"Key": TENANT_TAG, "Value": str(client.tenant_id)} in tags
    # no column of the account holds a value, and neither does the answer
    whole = api.admin.execute(
        "SELECT to_jsonb(a)::text AS t FROM provider_accounts a WHERE id = %s", (account_id,)
    ).fetchone()
    assert whole is not None
    for value in (*TWILIO.values(), "whsec-signing"):
        assert value not in whole["t"]
        assert value not in json.dumps(made.body)
        assert value not in json.dumps(client.get("/v1/provider-accounts").body)


@pytest.mark.parametrize("field", ["credentials_ref", "signing_secret_ref"])
def test_tenant_b_cannot_register_tenant_a_secret_by_arn_name_or_path(api: Api, field: str) -> None:
    a, b = api.tenant("A"), api.tenant("B")
    made = register(a)
    assert made.status == 201
    name = refs(api, made.body["id"])["credentials_ref"]
    arn = api.secretsmanager.describe_secret(SecretId=name)["ARN"]
    for ref in (
        arn,  # full ARN
        arn[: arn.rindex("-")],  # partial ARN, without the random suffix
        name,  # the name
        name.replace(f"/tenants/{a.tenant_id}/", f"/tenants/{b.tenant_id}/../{a.tenant_id}/"),
    ):
        answer = b.post(
            "/v1/provider-accounts", {"provider": "twilio", "name": "stolen", field: ref}
        )
        assert answer.status == 422, (ref, answer)
        assert answer.body["fields"][0]["field"] == f"body.{field}"
    assert b.get("/v1/provider-accounts").body["items"] == []
    assert secrets_under(api, f"tether/local/tenants/{b.tenant_id}/") == []


def test_the_database_refuses_a_reference_outside_the_accounts_own_path(api: Api) -> None:
    a, b = api.tenant("A"), api.tenant("B")
    theirs = refs(api, register(a).body["id"])
    ours = register(b, name="B main").body["id"]
    arn = api.secretsmanager.describe_secret(SecretId=theirs["credentials_ref"])["ARN"]
    for column, ref in (
        ("credentials_ref", theirs["credentials_ref"]),
        ("credentials_ref", arn),
        ("signing_secret_ref", theirs["signing_secret_ref"]),
        ("credentials_ref", refs(api, ours)["credentials_ref"].replace("credentials", "x")),
    ):
        with pytest.raises(psycopg.errors.CheckViolation):
            api.admin.execute(
                f"UPDATE provider_accounts SET {column} = %s WHERE id = %s",
                (ref, ours),
            )


def test_tenant_b_cannot_use_tenant_a_secret_by_arn_name_or_path(api: Api, reader: None) -> None:
    a, b = api.tenant("A"), api.tenant("B")
    theirs = refs(api, register(a).body["id"])
    name = theirs["credentials_ref"]
    arn = api.secretsmanager.describe_secret(SecretId=name)["ARN"]
    # A reads its own
    assert json.loads(resolve_secret(name, a.tenant_id)) == TWILIO
    stolen = [
        arn,
        arn[: arn.rindex("-")],
        name,
        name.replace(f"/tenants/{a.tenant_id}/", f"/tenants/{b.tenant_id}/../{a.tenant_id}/"),
        name.replace("tether/local/", "tether/prod/"),
    ]
    for ref in stolen:
        with pytest.raises(SecretRefused):
            resolve_secret(ref, b.tenant_id)
        # and the send path turns it into an operator's problem, nothing sent
        context = SimpleNamespace(
            credentials_ref=ref, tenant_id=b.tenant_id, provider="twilio", provider_account_id="x"
        )
        with pytest.raises(ProviderError) as raised:
            account_provider(context)  # type: ignore[arg-type]
        assert raised.value.kind == ProviderErrorKind.AUTH


def test_rotation_replaces_values_and_keeps_the_old_signing_secret_for_its_grace(
    api: Api, reader: None
) -> None:
    client = api.tenant()
    account_id = register(client).body["id"]
    rotated = client.request(
        "PUT",
        f"/v1/provider-accounts/{account_id}/secrets",
        {"credentials": {**TWILIO, "auth_token": "new-token"}, "signing_secret": "whsec-new",
         "previous_secret_valid_hours": 2},
    )  # fmt: skip
    assert rotated.status == 200, rotated
    assert rotated.body["previous_secret_expires_at"] is not None
    row = refs(api, account_id)
    assert row["previous_signing_secret_ref"] == row["signing_secret_ref"] + PREVIOUS_VERSION
    assert row["previous_secret_expires_at"] - NOW == timedelta(hours=2)
    clear_secret_cache()
    assert json.loads(resolve_secret(row["credentials_ref"], client.tenant_id))["auth_token"] == (
        "new-token"
    )
    assert resolve_secret(row["signing_secret_ref"], client.tenant_id) == "whsec-new"
    assert resolve_secret(row["previous_signing_secret_ref"], client.tenant_id) == "whsec-signing"
    # another tenant cannot rotate it (nor learn it exists)
    other = api.tenant("Other")
    hijack = other.request(
        "PUT", f"/v1/provider-accounts/{account_id}/secrets", {"signing_secret": "mine"}
    )
    assert hijack.status == 404
    assert resolve_secret(row["signing_secret_ref"], client.tenant_id) == "whsec-new"
    empty = client.request("PUT", f"/v1/provider-accounts/{account_id}/secrets", {})
    assert empty.status == 422


def test_a_registration_that_fails_leaves_no_secret_behind(api: Api) -> None:
    client = api.tenant()
    assert register(client).status == 201
    before = secrets_under(api, f"tether/local/tenants/{client.tenant_id}/")
    twice = register(client)  # the same name: 409 after the secrets were written
    assert twice.status == 409
    assert secrets_under(api, f"tether/local/tenants/{client.tenant_id}/") == before


@pytest.fixture
def prod_stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TETHER_STAGE", "prod")
    stage_settings.cache_clear()
    yield
    monkeypatch.undo()
    stage_settings.cache_clear()


def test_outside_the_local_stage_the_sandbox_and_foreign_hosts_are_refused(
    api: Api, prod_stage: None
) -> None:
    client = api.tenant()
    sandbox = client.post("/v1/provider-accounts", {"provider": "sandbox", "name": "sb"})
    assert sandbox.status == 422
    assert "local stage only" in sandbox.body["message"]
    elsewhere = register(client, credentials={**TWILIO, "base_url": "https://169.254.169.254"})
    assert elsewhere.status == 422
    assert "api.twilio.com" in elsewhere.body["message"]
    missing = register(client, credentials={"account_sid": "AC1"})
    assert missing.status == 422
    assert "auth_token" in missing.body["message"]
    made = register(client)
    assert made.status == 201
    path = refs(api, made.body["id"])["credentials_ref"]
    assert path.startswith(f"tether/prod/tenants/{client.tenant_id}/")
    assert secrets_under(api, "tether/") == sorted(
        [path, path.replace("credentials", "signing-secret")]
    )


def test_no_secret_value_is_stored_anywhere_in_postgres(api: Api) -> None:
    client = api.tenant()
    values = {"auth_token": "tok-Zq81vX0ccP", "signing": "sig-Yw27uT4bbR"}
    made = client.post(
        "/v1/provider-accounts",
        {"provider": "twilio", "name": "Scanned",
         "credentials": {"account_sid": "AC1", "auth_token": values["auth_token"]},
         "signing_secret": values["signing"]},
        headers={"Idempotency-Key": "register-once"},
    )  # fmt: skip
    assert made.status == 201
    replay = client.post(
        "/v1/provider-accounts",
        {"provider": "twilio", "name": "Scanned",
         "credentials": {"account_sid": "AC1", "auth_token": values["auth_token"]},
         "signing_secret": values["signing"]},
        headers={"Idempotency-Key": "register-once"},
    )  # fmt: skip
    assert replay.status == 201
    rotated = client.request(
        "PUT",
        f"/v1/provider-accounts/{made.body['id']}/secrets",
        {"signing_secret": values["signing"] + "-2"},
    )
    assert rotated.status == 200
    columns = api.admin.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        " JOIN information_schema.tables USING (table_schema, table_name)"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        " AND data_type IN ('text', 'jsonb', 'json', 'character varying', 'bytea')"
    ).fetchall()
    assert len(columns) > 20
    for column in columns:
        found = api.admin.execute(
            f'SELECT count(*) AS n FROM "{column["table_name"]}"'
            f' WHERE position(%s in "{column["column_name"]}"::text) > 0'
            f' OR position(%s in "{column["column_name"]}"::text) > 0',
            (values["auth_token"], values["signing"]),
        ).fetchone()
        assert found is not None
        assert found["n"] == 0, column


def test_a_retried_rotation_with_its_key_keeps_the_replaced_secret_verifying(
    api: Api, reader: None
) -> None:
    client = api.tenant()
    account_id = register(client).body["id"]
    path = f"/v1/provider-accounts/{account_id}/secrets"
    headers = {"Idempotency-Key": "rotate-1"}
    first = client.request("PUT", path, {"signing_secret": "whsec-new"}, headers=headers)
    again = client.request("PUT", path, {"signing_secret": "whsec-new"}, headers=headers)
    assert (first.status, again.status) == (200, 200)
    assert again.headers.get("Idempotent-Replayed") == "true"
    row = refs(api, account_id)
    clear_secret_cache()
    assert resolve_secret(row["previous_signing_secret_ref"], client.tenant_id) == "whsec-signing"
    assert resolve_secret(row["signing_secret_ref"], client.tenant_id) == "whsec-new"


def test_an_account_registered_with_an_arn_before_0020_is_moved_by_a_rotation(
    api: Api, reader: None
) -> None:
    client = api.tenant()
    account_id = register(client).body["id"]
    legacy = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tether/old-AbCdEf"
    # as a row written before the constraints (NOT VALID) would be
    api.admin.execute(
        "ALTER TABLE provider_accounts"
        " DROP CONSTRAINT provider_accounts_signing_secret_ref_in_tenant_path"
    )
    try:
        api.admin.execute(
            "UPDATE provider_accounts SET signing_secret_ref = %s WHERE id = %s",
            (legacy, account_id),
        )
    finally:
        api.admin.execute(
            "ALTER TABLE provider_accounts"
            " ADD CONSTRAINT provider_accounts_signing_secret_ref_in_tenant_path CHECK ("
            "  provider_secret_ref_ok(signing_secret_ref, tenant_id, id, 'signing-secret')"
            " ) NOT VALID"
        )
    with pytest.raises(SecretRefused):
        resolve_secret(legacy, client.tenant_id)
    # rotating the credentials alone drops the legacy reference instead of failing
    rotated = client.request(
        "PUT", f"/v1/provider-accounts/{account_id}/secrets", {"credentials": TWILIO}
    )
    assert rotated.status == 200, rotated
    assert rotated.body["has_signing_secret"] is False
    assert refs(api, account_id)["signing_secret_ref"] is None
