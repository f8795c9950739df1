"""Provider secrets over HTTP on the local stack: a tenant hands its credentials to the
API, they land in (moto's) Secrets Manager under its own path, another tenant cannot
name them, and no log line of the stack holds them."""

from __future__ import annotations

import json

from tests.support.dev_stack import DevStack
from tether_dev.local.aws import client
from tether_dev.local.demo import create_tenant


def test_secrets_go_to_the_tenant_path_and_another_tenant_cannot_name_them(
    dev_stack: DevStack,
) -> None:
    stack = dev_stack.client
    secretsmanager = client("secretsmanager", str(dev_stack.state["aws_endpoint_url"]))
    tenant_a, key_a = create_tenant(stack, "Secrets A", dev_stack.env)
    tenant_b, key_b = create_tenant(stack, "Secrets B", dev_stack.env)
    token = "e2e-auth-token-7Qp2"
    made = stack.call(
        "POST",
        "/v1/provider-accounts",
        {"provider": "twilio", "name": "Twilio", "signing_secret": token,
         "credentials": {"account_sid": "AC123", "auth_token": token}},
        {"Authorization": f"Bearer {key_a}"},
    )  # fmt: skip
    assert made.status == 201, made.body
    account = made.json()
    assert token not in made.body.decode()
    name = f"tether/local/tenants/{tenant_a}/provider-accounts/{account['id']}/credentials"
    stored = secretsmanager.get_secret_value(SecretId=name)
    assert json.loads(stored["SecretString"])["auth_token"] == token
    arn = stored["ARN"]

    for field, ref in (
        ("credentials_ref", arn),
        ("credentials_ref", arn[: arn.rindex("-")]),
        ("credentials_ref", name),
        ("signing_secret_ref", name.replace("credentials", "signing-secret")),
    ):
        stolen = stack.call(
            "POST",
            "/v1/provider-accounts",
            {"provider": "twilio", "name": "Stolen", field: ref},
            {"Authorization": f"Bearer {key_b}"},
        )
        assert stolen.status == 422, stolen.body
    listed = stack.call("GET", "/v1/provider-accounts", None, {"Authorization": f"Bearer {key_b}"})
    assert listed.json()["items"] == []
    # B cannot rotate (nor see) A's account either
    hijack = stack.call(
        "PUT",
        f"/v1/provider-accounts/{account['id']}/secrets",
        {"signing_secret": "mine"},
        {"Authorization": f"Bearer {key_b}"},
    )
    assert hijack.status == 404
    assert tenant_b not in name
    assert token not in dev_stack.log()
