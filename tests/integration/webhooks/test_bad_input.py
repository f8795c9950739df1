"""Every kind of bad request gets its 4xx, says what is wrong, and leaves nothing but
an audit row: no receipt, no queue message, never a 5xx."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.factories import Chain
from tests.support.webhook_samples import load_sample, retarget, signed_event, with_body
from tests.support.webhooks import (
    AddAccount,
    Aws,
    Deliver,
    audit_rows,
    receipts,
    sample_for,
)
from tether.db.connection import Connection

Change = Callable[[dict[str, Any], AddAccount], dict[str, Any]]


def _method(event: dict[str, Any], _: AddAccount) -> dict[str, Any]:
    return {**event, "httpMethod": "GET"}


def _unsigned(event: dict[str, Any], _: AddAccount) -> dict[str, Any]:
    headers = {k: v for k, v in event["headers"].items() if "signature" not in k.lower()}
    return {**event, "headers": headers}


def _malformed(event: dict[str, Any], _: AddAccount) -> dict[str, Any]:
    return signed_event(with_body(event, '{"event": "MESSAGE_RECEIVED", "metaData": 7}'))


def _too_large(event: dict[str, Any], _: AddAccount) -> dict[str, Any]:
    return signed_event(with_body(event, json.dumps({"event": "X", "pad": "x" * 70_000})))


def _content_type(event: dict[str, Any], _: AddAccount) -> dict[str, Any]:
    changed = signed_event(event)
    changed["headers"]["Content-Type"] = "text/xml"
    return changed


def _other_providers_account(event: dict[str, Any], add_account: AddAccount) -> dict[str, Any]:
    return signed_event(retarget(event, add_account("telnyx")))  # a Telnyx account, SignalHouse URL


CASES: list[tuple[str, Change, int, str, str]] = [
    ("wrong method", _method, 405, "method_not_allowed", "use POST"),
    (
        "missing signature",
        _unsigned,
        401,
        "invalid_signature",
        "X-SignalHouse-Signature header is missing",
    ),
    ("malformed body", _malformed, 400, "invalid_input", "metaData"),
    ("body over 64 KiB", _too_large, 413, "payload_too_large", "at most 65536"),
    ("wrong content type", _content_type, 415, "unsupported_media_type", "send application/json"),
    (
        "account of another provider",
        _other_providers_account,
        404,
        "not_found",
        "no such provider account",
    ),
]


@pytest.mark.parametrize(
    ("change", "status", "error", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_clear_4xx_with_only_an_audit_row(
    change: Change,
    status: int,
    error: str,
    says: str,
    deliver: Deliver,
    add_account: AddAccount,
    admin: Connection,
    aws: Aws,
) -> None:
    event = change(sample_for(add_account, load_sample("signalhouse_inbound")), add_account)
    account_id = event["pathParameters"]["account_id"]

    response = deliver(event)

    assert response["statusCode"] == status
    body = json.loads(response["body"])
    assert body["error"] == error
    assert says in body["message"]
    assert receipts(admin, account_id) == []
    assert aws.messages() == []
    [audit] = audit_rows(admin, account_id)
    assert audit["kind"] == "webhook_rejected"
    assert audit["detail"]["reason"] == body["message"]
    if status == 405:
        assert response["headers"]["Allow"] == "POST"


def test_the_audit_row_of_a_known_account_belongs_to_its_tenant(
    deliver: Deliver, add_account: AddAccount, admin: Connection, chain: Chain
) -> None:
    event = _unsigned(sample_for(add_account, load_sample("sandbox_status")), add_account)
    deliver(event)
    [audit] = audit_rows(admin, event["pathParameters"]["account_id"])
    assert audit["tenant_id"] == chain.tenant_id


@pytest.mark.parametrize(
    ("provider", "account_id"),
    [
        # fixed ids, as pytest-xdist's workers must collect the same test ids
        ("signalhouse", "7d2e9b14-6a3f-4e58-b0c1-95f4a8d3e216"),  # no such account
        ("signalhouse", "not-a-uuid"),
        ("nexmo", "c41a7f03-2b9d-4e6c-8f15-3a0d7e9b5c28"),  # no such provider
    ],
)
def test_an_unknown_provider_or_account_is_404_and_a_metric_not_a_row(
    provider: str,
    account_id: str,
    deliver: Deliver,
    admin: Connection,
    aws: Aws,
    capsys: pytest.CaptureFixture[str],
) -> None:
    event = retarget(load_sample("signalhouse_inbound"), account_id, provider)
    audit_before = admin.execute("SELECT count(*) AS n FROM audit_log").fetchone()

    response = deliver(event)

    assert response["statusCode"] == 404
    assert aws.messages() == []
    # anonymous traffic costs no row (issue 24): nobody could even read a tenantless one
    assert admin.execute("SELECT count(*) AS n FROM audit_log").fetchone() == audit_before
    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert any(m.get("WebhookRejectedUnknownTarget") == [1.0] for m in metrics)


def test_an_account_without_a_signing_secret_refuses_everything(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    account_id = add_account("sandbox", signing_secret_ref=None)
    response = deliver(signed_event(load_sample("sandbox_inbound"), account_id=account_id))
    assert response["statusCode"] == 401
    assert "no signing secret" in json.loads(response["body"])["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe{}",  # not UTF-8
        b'{"type": "message.received", "data": {"id": "m1"}}',  # fields missing
        b'{"type": "message.received", "data": ' + b"[" * 60_000,  # hostile nesting
    ],
    ids=["not utf-8", "missing fields", "deep nesting"],
)
def test_nothing_a_client_sends_is_a_5xx(
    body: bytes, deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    event = sample_for(add_account, load_sample("sandbox_inbound"))
    event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)

    response = deliver(signed_event(event))

    assert response["statusCode"] == 400, response
    assert receipts(admin, event["pathParameters"]["account_id"]) == []
