"""The inbound function as deployed: InboundQueue batches naming stored receipts, each
applied once, partial batch failures, real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from functions.inbound import app as inbound_app
from tests.support.factories import Deploy, Queue
from tests.support.lambda_context import LambdaContextStub
from tests.support.log_capture import captured_logs
from tests.support.outbound import NOW, SENDER, Outbound
from tests.support.replies import LEAD_PHONE
from tests.support.sqs_records import sqs_record
from tether.db.connection import Connection
from tether.domain.events import InboundMessage, StatusUpdate
from tether.domain.message_status import MessageStatus


@pytest.fixture
def deployed(deploy: Deploy) -> None:
    from tether.config import inbound_settings
    from tether.queues import queue_at

    deploy(inbound_settings, queue_at)


def store_receipt(
    admin: Connection, outbound: Outbound, event: InboundMessage | StatusUpdate | None
) -> dict[str, Any]:
    account = admin.execute(
        "SELECT id FROM provider_accounts WHERE tenant_id = %s", (outbound.tenant_id,)
    ).fetchone()
    assert account is not None
    event_type = "unknown" if event is None else event.kind
    row = admin.execute(
        "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider, idempotency_key, event_type,"
        " raw_body, event) VALUES (%s, %s, 'sandbox', %s, %s, '{}', %s) RETURNING id",
        (
            outbound.tenant_id,
            account["id"],
            f"sandbox:{uuid.uuid4()}",
            event_type,
            Jsonb(event.model_dump(mode="json")) if event else None,
        ),
    ).fetchone()
    assert row is not None
    body = {
        "tenant_id": str(outbound.tenant_id),
        "receipt_id": str(row["id"]),
        "event_type": event_type,
    }
    return sqs_record(json.dumps(body), "inbound")


def test_a_batch_applies_replies_statuses_and_unknown_events_once(
    deployed: None, texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    [text] = outbound.sandbox.texts()
    records = [
        store_receipt(
            admin,
            outbound,
            InboundMessage(
                provider="sandbox",
                external_id=f"SM-in-{uuid.uuid4().hex}",
                from_address=LEAD_PHONE,
                to_address=SENDER,
                body="Yes, call me",
                occurred_at=NOW,
            ),
        ),
        store_receipt(
            admin,
            outbound,
            StatusUpdate(
                provider="sandbox",
                external_id=text.sid,
                status=MessageStatus.DELIVERED,
                occurred_at=NOW,
            ),
        ),
        store_receipt(admin, outbound, None),
    ]
    missing = {**records[0], "messageId": str(uuid.uuid4())}
    missing["body"] = json.dumps(
        {**json.loads(records[0]["body"]), "receipt_id": str(uuid.uuid4())}
    )
    result = inbound_app.handler({"Records": [*records, missing]}, LambdaContextStub())
    assert result == {"batchItemFailures": [{"itemIdentifier": missing["messageId"]}]}
    state = admin.execute("SELECT state::text AS s FROM leads WHERE id = %s", (lead_id,)).fetchone()
    assert state == {"s": "high_intent"}
    sent = admin.execute(
        "SELECT status FROM messages WHERE external_id = %s", (text.sid,)
    ).fetchone()
    assert sent == {"status": "delivered"}
    processed = admin.execute(
        "SELECT count(*) AS n FROM webhook_receipts WHERE tenant_id = %s AND processed_at IS NOT NULL",
        (outbound.tenant_id,),
    ).fetchone()
    assert processed == {"n": 3}
    # the queue delivers again: nothing changes
    assert inbound_app.handler({"Records": records}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    events = admin.execute(
        "SELECT count(*) AS n FROM lead_events WHERE lead_id = %s", (lead_id,)
    ).fetchone()
    assert events == {"n": 3}  # the first touch, the reply, the lease for the call
    replies = admin.execute(
        "SELECT count(*) AS n FROM messages WHERE lead_id = %s AND direction = 'inbound'",
        (lead_id,),
    ).fetchone()
    assert replies == {"n": 1}


def test_an_answer_goes_to_the_outbound_queue_at_once(
    deployed: None,
    texted: tuple[Outbound, uuid.UUID],
    admin: Connection,
    queue: Queue,
) -> None:
    outbound, lead_id = texted
    record = store_receipt(
        admin,
        outbound,
        InboundMessage(
            provider="sandbox",
            external_id=f"SM-in-{uuid.uuid4().hex}",
            from_address=LEAD_PHONE,
            to_address=SENDER,
            body="HELP",
            occurred_at=NOW,
        ),
    )
    assert inbound_app.handler({"Records": [record]}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    answer = admin.execute(
        "SELECT id, enqueued_at FROM messages WHERE lead_id = %s AND purpose = 'auto_reply'",
        (lead_id,),
    ).fetchone()
    assert answer is not None
    assert answer["enqueued_at"] is not None
    [message] = queue.take()
    assert message == {
        "tenant_id": str(outbound.tenant_id),
        "message_id": str(answer["id"]),
    }


def test_a_stop_from_a_phone_with_no_lead_is_confirmed_through_the_queue(
    deployed: None,
    texted: tuple[Outbound, uuid.UUID],
    admin: Connection,
    queue: Queue,
) -> None:
    """Issue 23, finding 1, as deployed: the STOP matches no lead, the phone is
    suppressed, and the confirmation goes to OutboundQueue from the number it reached."""
    outbound, _ = texted
    stranger = "+14155550177"
    record = store_receipt(
        admin,
        outbound,
        InboundMessage(
            provider="sandbox",
            external_id=f"SM-in-{uuid.uuid4().hex}",
            from_address=stranger,
            to_address=SENDER,
            body="S.T.O.P",
            occurred_at=NOW,
        ),
    )
    assert inbound_app.handler({"Records": [record]}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    assert admin.execute(
        "SELECT count(*) AS n FROM suppressions WHERE tenant_id = %s AND phone = %s",
        (outbound.tenant_id, stranger),
    ).fetchone() == {"n": 1}
    answer = admin.execute(
        "SELECT id, from_address, lead_id, enqueued_at FROM messages"
        # this tenant's: other tests text the same stranger from tenants of their own
        " WHERE tenant_id = %s AND to_address = %s AND purpose = 'opt_out_confirmation'",
        (outbound.tenant_id, stranger),
    ).fetchone()
    assert answer is not None
    assert (answer["from_address"], answer["lead_id"]) == (SENDER, None)
    assert answer["enqueued_at"] is not None
    [message] = queue.take()
    assert message == {"tenant_id": str(outbound.tenant_id), "message_id": str(answer["id"])}


def test_each_record_logs_its_sqs_message_id_and_a_malformed_one_is_reported_alone(
    deployed: None, texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    """Records are parsed by the batch processor's model: a body that is not JSON, or
    not a receipt message, fails that record only (it returns, and after five times goes
    to the DLQ); the others are applied, each logging under its SQS message id."""
    outbound, _ = texted
    good = store_receipt(admin, outbound, None)
    not_json = {**good, "messageId": str(uuid.uuid4()), "body": "{not json"}
    not_a_receipt = {**good, "messageId": str(uuid.uuid4()), "body": '{"tenant_id": 7}'}
    with captured_logs() as logs:
        result = inbound_app.handler(
            {"Records": [not_json, good, not_a_receipt]}, LambdaContextStub()
        )
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": not_json["messageId"]},
            {"itemIdentifier": not_a_receipt["messageId"]},
        ]
    }
    [processed] = [line for line in logs.parsed() if line["message"] == "receipt processed"]
    assert processed["sqs_message_id"] == good["messageId"]
    receipt_id = json.loads(good["body"])["receipt_id"]
    applied = admin.execute(
        "SELECT processed_at FROM webhook_receipts WHERE id = %s", (receipt_id,)
    ).fetchone()
    assert applied is not None
    assert applied["processed_at"] is not None
