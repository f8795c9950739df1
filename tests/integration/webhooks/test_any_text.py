"""A signed provider event is stored whatever its text (issue 13): a NUL, a lone
surrogate or a number that does not parse neither loses the event nor answers 5xx. The
raw request is kept byte for byte; the event is then processed like any other."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from psycopg import errors as pg

from tests.support.factories import Chain
from tests.support.webhook_fields import INBOUND_SAMPLES, inbound_with
from tests.support.webhook_samples import signed_event
from tests.support.webhooks import AddAccount, Aws, Deliver, receipts
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.storable import REPLACEMENT
from tether.services.inbound import process_receipt
from tether.services.receipts import ReceiptMessage
from tether.webhooks.request import WebhookRequest


def national(e164: str) -> str:
    """How SignalHouse writes a number: without the plus."""
    return e164.removeprefix("+")


def deliver_inbound(
    name: str,
    sender: str,
    recipient: str,
    text: str,
    deliver: Deliver,
    add_account: AddAccount,
) -> tuple[dict[str, object], dict[str, object], str]:
    provider = name.split("_", 1)[0]
    event = signed_event(
        inbound_with(name, sender, recipient, text), account_id=add_account(provider)
    )
    response = deliver(event)
    return response, event, event["pathParameters"]["account_id"]


@pytest.mark.parametrize("name", INBOUND_SAMPLES)
def test_a_stop_with_a_nul_is_stored_byte_exact_and_honoured_as_an_opt_out(
    name: str,
    deliver: Deliver,
    add_account: AddAccount,
    admin: Connection,
    app_connections: FreshConnections,
    chain: Chain,
) -> None:
    response, event, account_id = deliver_inbound(
        name, chain.lead_phone, chain.number, "STOP\x00", deliver, add_account
    )

    assert response["statusCode"] == 200, response
    [receipt] = receipts(admin, account_id)
    sent = WebhookRequest.from_api_gateway(event).body
    assert bytes(receipt["raw_bytes"]) == sent  # the original, recoverable
    assert "\x00" not in receipt["raw_body"]
    assert receipt["event"]["body"] == f"STOP{REPLACEMENT}"

    outcome = process_receipt(
        UnitOfWork(app_connections, chain.tenant_id),
        ReceiptMessage(
            tenant_id=chain.tenant_id, receipt_id=receipt["id"], event_type="inbound_message"
        ),
        datetime.now(UTC),
    )

    assert outcome == "reply matched"
    lead = admin.execute("SELECT state::text AS s FROM leads WHERE id = %s", (chain.lead_id,))
    assert lead.fetchone() == {"s": "suppressed"}
    suppressed = admin.execute(
        "SELECT count(*) AS n FROM suppressions WHERE tenant_id = %s", (chain.tenant_id,)
    ).fetchone()
    assert suppressed == {"n": 1}


@pytest.mark.parametrize("name", INBOUND_SAMPLES)
@pytest.mark.parametrize(
    "text",
    ["\ud800 lone high", "lone low \udfff", "\x00\x00", "tab\t bell\x07 del\x7f \u2028", "😀"],
    ids=["high surrogate", "low surrogate", "nuls", "controls", "astral"],
)
def test_any_text_in_a_signed_event_is_stored_once_and_its_bytes_kept(
    name: str, text: str, deliver: Deliver, add_account: AddAccount, admin: Connection, aws: Aws
) -> None:
    response, event, account_id = deliver_inbound(
        name, "+14155552671", "+16502530000", text, deliver, add_account
    )

    assert response["statusCode"] == 200, response
    [receipt] = receipts(admin, account_id)
    assert bytes(receipt["raw_bytes"]) == WebhookRequest.from_api_gateway(event).body
    assert "\x00" not in receipt["event"]["body"]
    receipt["event"]["body"].encode("utf-8")  # no surrogate left
    assert len(aws.messages()) == 1
    assert deliver(event)["statusCode"] == 200  # the retry is a duplicate
    assert len(receipts(admin, account_id)) == 1


def test_a_body_sent_as_base64_with_bytes_that_are_not_utf8_is_kept_exactly(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    event = inbound_with("twilio_inbound", "+14155552671", "+16502530000", "hi")
    # a form whose Body holds percent-escaped bytes that are not UTF-8
    raw = event["body"].replace("Body=hi", "Body=%FF%FEhi%00").encode()
    event.update(body=base64.b64encode(raw).decode(), isBase64Encoded=True)
    event = signed_event(event, account_id=add_account("twilio"))

    assert deliver(event)["statusCode"] == 200
    [receipt] = receipts(admin, event["pathParameters"]["account_id"])
    assert bytes(receipt["raw_bytes"]) == raw
    assert receipt["event"]["body"] == f"{REPLACEMENT}{REPLACEMENT}hi{REPLACEMENT}"


ODD_NUMBERS = ["+1 212 555 0", "not a number", "+", "", "٣٤٥", "+1" + "9" * 300, "\x00"]


@pytest.mark.parametrize("name", INBOUND_SAMPLES)
@pytest.mark.parametrize("side", ["sender", "recipient"])
def test_a_number_that_does_not_parse_is_stored_and_listed_as_unmatched(
    name: str,
    side: str,
    deliver: Deliver,
    add_account: AddAccount,
    admin: Connection,
    app_connections: FreshConnections,
    chain: Chain,
) -> None:
    for odd in ODD_NUMBERS:
        sender, recipient = (odd, chain.number) if side == "sender" else (chain.lead_phone, odd)
        response, _, account_id = deliver_inbound(
            name, sender, recipient, "hello", deliver, add_account
        )
        status = response["statusCode"]
        assert isinstance(status, int)
        assert status < 500, (odd, response)
        if status != 200:
            # only an empty address is refused, and the answer says which
            assert odd == "", (odd, response)
            assert json.loads(str(response["body"]))["error"] == "invalid_input"
            continue
        [receipt] = receipts(admin, account_id)
        outcome = process_receipt(
            UnitOfWork(app_connections, chain.tenant_id),
            ReceiptMessage(
                tenant_id=chain.tenant_id, receipt_id=receipt["id"], event_type="inbound_message"
            ),
            datetime.now(UTC),
        )
        assert outcome == "reply unmatched", odd
        parked = admin.execute(
            "SELECT u.reason FROM unmatched_inbound u JOIN messages m ON m.id = u.message_id"
            " WHERE m.tenant_id = %s AND m.external_id = %s",
            (chain.tenant_id, receipt["external_id"]),
        ).fetchall()
        assert len(parked) == 1, odd


def test_a_receipts_raw_request_cannot_be_rewritten_and_is_never_missing(
    admin: Connection, chain: Chain
) -> None:
    row = admin.execute(
        "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider,"
        " idempotency_key, event_type, raw_body) VALUES (%s, %s, 'sandbox', %s, 'unknown',"
        " 'caf\u00e9') RETURNING id, raw_bytes",
        (chain.tenant_id, chain.provider_account_id, f"sandbox:{chain.provider_account_id}:x"),
    ).fetchone()
    assert row is not None
    assert bytes(row["raw_bytes"]) == "café".encode()  # written without it: its text's UTF-8
    for change in ("raw_bytes = '\\x00'::bytea", "raw_body = 'other'"):
        with pytest.raises(pg.CheckViolation), admin.transaction():
            admin.execute(f"UPDATE webhook_receipts SET {change} WHERE id = %s", (row["id"],))
    admin.execute("UPDATE webhook_receipts SET attempts = 1 WHERE id = %s", (row["id"],))
