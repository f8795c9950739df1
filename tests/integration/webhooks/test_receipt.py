"""The webhook function end to end: real Postgres, moto's DynamoDB and SQS."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import functions.webhook.app as webhook_app
from tests.support.factories import Chain
from tests.support.webhook_samples import (
    SAMPLES,
    load_sample,
    signed_event,
    with_body,
    with_json,
)
from tests.support.webhooks import (
    AddAccount,
    Aws,
    Deliver,
    FakeLambdaContext,
    audit_rows,
    make_ports,
    receipts,
    sample_for,
)
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections


@pytest.mark.parametrize("name", SAMPLES)
def test_a_signed_event_is_stored_once_and_enqueued(
    name: str, deliver: Deliver, add_account: AddAccount, admin: Connection, aws: Aws, chain: Chain
) -> None:
    event = sample_for(add_account, load_sample(name))
    account_id = event["pathParameters"]["account_id"]

    response = deliver(event)

    assert response["statusCode"] == 200
    [receipt] = receipts(admin, account_id)
    assert receipt["tenant_id"] == chain.tenant_id
    assert receipt["raw_body"] == event["body"]  # byte for byte
    assert receipt["event_type"] in ("inbound_message", "status_update")
    assert receipt["event"]["provider"] == event["pathParameters"]["provider"]
    assert receipt["external_id"] == receipt["event"]["external_id"]
    assert receipt["enqueued_at"] is not None
    assert receipt["idempotency_key"].startswith(f"{receipt['provider']}:{account_id}:")
    assert aws.messages() == [
        {
            "tenant_id": str(chain.tenant_id),
            "receipt_id": str(receipt["id"]),
            "event_type": receipt["event_type"],
        }
    ]
    assert audit_rows(admin, account_id) == []


@pytest.mark.parametrize("name", SAMPLES)
def test_a_tampered_body_is_401_and_leaves_only_an_audit_row(
    name: str, deliver: Deliver, add_account: AddAccount, admin: Connection, aws: Aws, chain: Chain
) -> None:
    event = sample_for(add_account, load_sample(name))
    account_id = event["pathParameters"]["account_id"]
    tampered = with_body(event, event["body"].replace("1", "2", 1))

    response = deliver(tampered)

    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "invalid_signature"
    assert receipts(admin, account_id) == []
    assert aws.messages() == []
    [audit] = audit_rows(admin, account_id)
    assert audit["tenant_id"] == chain.tenant_id
    assert audit["kind"] == "webhook_rejected"
    assert audit["detail"]["rejection"] == "invalid_signature"


def test_twilio_test_vector_through_the_handler(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    """Twilio's published example, as API Gateway would hand it over for that URL."""
    account_id = add_account("twilio", "local:12345")
    event = load_sample("twilio_status")
    event["pathParameters"]["account_id"] = account_id
    event["headers"].update(
        Host="mycompany.com", **{"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}
    )
    event["requestContext"]["path"] = "/myapp.php"
    event["multiValueQueryStringParameters"] = {"foo": ["1"], "bar": ["2"]}
    event["body"] = (
        "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212"
    )

    assert deliver(event)["statusCode"] == 200
    [receipt] = receipts(admin, account_id)
    assert receipt["event_type"] == "unknown"  # a voice callback: kept, not understood

    event["headers"]["X-Twilio-Signature"] = "RSOYDt4T1cUTdK1PDd93/VVr8B9="
    assert deliver(event)["statusCode"] == 401


def test_a_repeated_delivery_answers_200_and_does_nothing(
    deliver: Deliver, add_account: AddAccount, admin: Connection, aws: Aws
) -> None:
    event = sample_for(add_account, load_sample("signalhouse_inbound"))
    first = deliver(event)
    # SignalHouse signs every retry afresh: a new timestamp, the same delivery id
    retry = signed_event(event, now=datetime.now(UTC) + timedelta(seconds=2))
    second = deliver(retry)

    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert json.loads(first["body"])["status"] == "accepted"
    assert json.loads(second["body"])["status"] == "duplicate"
    assert len(receipts(admin, event["pathParameters"]["account_id"])) == 1
    assert len(aws.messages()) == 1


def test_a_telnyx_retry_differs_in_meta_only_and_is_a_duplicate(
    deliver: Deliver, add_account: AddAccount, admin: Connection, aws: Aws
) -> None:
    event = sample_for(add_account, load_sample("telnyx_inbound"))
    retry = signed_event(with_json(event, lambda b: b["meta"].update(attempt=2)))
    assert deliver(event)["statusCode"] == 200
    assert json.loads(deliver(retry)["body"])["status"] == "duplicate"
    assert len(receipts(admin, event["pathParameters"]["account_id"])) == 1


def test_a_duplicate_after_the_idempotency_record_expired_is_caught_by_postgres(
    deliver: Deliver, add_account: AddAccount, admin: Connection, aws: Aws
) -> None:
    event = sample_for(add_account, load_sample("sandbox_inbound"))
    assert deliver(event)["statusCode"] == 200
    for item in aws.dynamodb.scan(TableName=aws.table_name)["Items"]:  # DynamoDB forgot it
        aws.dynamodb.delete_item(TableName=aws.table_name, Key={"id": item["id"]})

    response = deliver(event)

    assert json.loads(response["body"]) == {"status": "duplicate", "receipt_id": None}
    assert len(receipts(admin, event["pathParameters"]["account_id"])) == 1
    assert len(aws.messages()) == 1


def test_the_same_event_id_with_other_content_is_409(
    deliver: Deliver, add_account: AddAccount, admin: Connection, aws: Aws
) -> None:
    event = sample_for(add_account, load_sample("sandbox_inbound"))
    assert deliver(event)["statusCode"] == 200
    forged = signed_event(with_json(event, lambda b: b["data"].update(body="other words")))

    response = deliver(forged)

    assert response["statusCode"] == 409
    assert json.loads(response["body"])["error"] == "event_id_reused"
    assert "Retry-After" not in response["headers"]
    account_id = event["pathParameters"]["account_id"]
    assert [r["event"]["body"] for r in receipts(admin, account_id)] == [
        "Sounds good, call me tomorrow"
    ]
    assert [a["detail"]["rejection"] for a in audit_rows(admin, account_id)] == ["event_id_reused"]


class HeldQueue(SqsQueue):
    """Holds every send until released: a delivery caught in the middle."""

    def __init__(self, inner: SqsQueue) -> None:
        super().__init__(inner.queue_url, inner.client)
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, body: str, **kwargs: Any) -> str:
        self.entered.set()
        assert self.release.wait(10)
        return super().send(body, **kwargs)


def test_a_duplicate_still_in_progress_is_409_with_retry_after(
    aws: Aws,
    app_connections: FreshConnections,
    add_account: AddAccount,
    admin: Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = HeldQueue(SqsQueue(aws.queue_url, aws.sqs))
    ports = make_ports(aws, app_connections, queue=held)
    monkeypatch.setattr(webhook_app, "webhook_ports", lambda: ports)
    event = sample_for(add_account, load_sample("twilio_inbound"))
    first: list[dict[str, Any]] = []
    worker = threading.Thread(
        target=lambda: first.append(webhook_app.handler(event, FakeLambdaContext()))
    )
    worker.start()
    assert held.entered.wait(10)

    second = webhook_app.handler(event, FakeLambdaContext())

    held.release.set()
    worker.join(10)
    assert second["statusCode"] == 409
    assert second["headers"]["Retry-After"] == "1"
    assert first[0]["statusCode"] == 200
    assert first[0]["headers"]["Content-Type"] == "text/xml"  # TwiML for Twilio
    assert len(receipts(admin, event["pathParameters"]["account_id"])) == 1
    assert len(aws.messages()) == 1


def test_an_unknown_event_type_is_stored_and_acknowledged(
    deliver: Deliver, add_account: AddAccount, admin: Connection, aws: Aws
) -> None:
    event = sample_for(
        add_account,
        with_json(
            load_sample("telnyx_inbound"),
            lambda b: b["data"].update(event_type="number_order.complete"),
        ),
    )
    assert deliver(event)["statusCode"] == 200
    [receipt] = receipts(admin, event["pathParameters"]["account_id"])
    assert (receipt["event_type"], receipt["event"]) == ("unknown", None)
    assert [m["event_type"] for m in aws.messages()] == ["unknown"]


def test_credentials_a_provider_sends_along_are_not_stored(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    event = load_sample("signalhouse_status")
    event["headers"]["Authorization"] = "Basic dGV0aGVyOnNlY3JldA=="
    event = sample_for(add_account, event)
    assert deliver(event)["statusCode"] == 200
    [receipt] = receipts(admin, event["pathParameters"]["account_id"])
    assert "authorization" not in receipt["headers"]
    assert (
        receipt["headers"]["x-signalhouse-delivery-id"]
        == event["headers"]["X-SignalHouse-Delivery-Id"]
    )


def test_the_previous_secret_verifies_until_its_grace_period_ends(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    account_id = add_account(
        "signalhouse",
        "local:the-new-secret",
        previous_signing_secret_ref="local:the-old-secret",
        previous_secret_expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    old = signed_event(load_sample("signalhouse_inbound"), "the-old-secret", account_id=account_id)
    new = signed_event(load_sample("signalhouse_status"), "the-new-secret", account_id=account_id)
    assert deliver(old)["statusCode"] == 200
    assert deliver(new)["statusCode"] == 200

    admin.execute(
        "UPDATE provider_accounts SET previous_secret_expires_at = now() WHERE id = %s",
        (account_id,),
    )
    late = signed_event(
        with_json(load_sample("signalhouse_inbound"), lambda b: b.update(identifier="late")),
        "the-old-secret",
        account_id=account_id,
    )
    late["headers"]["X-SignalHouse-Delivery-Id"] = str(uuid.uuid4())
    assert deliver(late)["statusCode"] == 401
    assert len(receipts(admin, account_id)) == 2


def test_when_the_idempotency_store_is_down_nothing_is_stored_and_the_answer_is_503(
    aws: Aws, deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    aws.dynamodb.delete_table(TableName=aws.table_name)
    event = sample_for(add_account, load_sample("sandbox_status"))

    response = deliver(event)

    assert response["statusCode"] == 503
    assert receipts(admin, event["pathParameters"]["account_id"]) == []
    assert aws.messages() == []


def test_the_real_wiring_reads_its_settings_once(
    aws: Aws,
    add_account: AddAccount,
    admin: Connection,
    monkeypatch: pytest.MonkeyPatch,
    test_database: Any,
) -> None:
    """Without injected ports: the function's own getters, from its environment."""
    from tether.config import database_settings, webhook_settings
    from tether.db.connection import lambda_connection

    monkeypatch.setenv("DATABASE_URL", test_database.admin_url)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", aws.table_name)
    monkeypatch.setenv("INBOUND_QUEUE_URL", aws.queue_url)
    caches = (database_settings, webhook_settings, lambda_connection, webhook_app.webhook_ports)
    for getter in caches:
        getter.cache_clear()
    # (the idempotency store takes its client from there on its first use)
    monkeypatch.setattr("tether.aws.clients.aws_client", lambda service: getattr(aws, service))
    try:
        event = sample_for(add_account, load_sample("sandbox_inbound"))
        assert webhook_app.handler(event, FakeLambdaContext())["statusCode"] == 200
        assert webhook_app.webhook_ports() is webhook_app.webhook_ports()
        assert len(receipts(admin, event["pathParameters"]["account_id"])) == 1
        assert len(aws.messages()) == 1
    finally:
        lambda_connection("app").acquire().close()
        for getter in caches:
            getter.cache_clear()
