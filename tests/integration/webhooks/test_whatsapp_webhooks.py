"""WhatsApp webhooks through the webhook function (issue 18): Twilio signs a WhatsApp
message's callbacks exactly as an SMS's (the official `twilio` SDK signs them here), and
each parser stores a `whatsapp:` address without its prefix, with channel 'whatsapp'."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.integration.webhooks.test_independent_signers import AUTH_TOKEN, twilio_form
from tests.support.webhook_samples import load_sample, signed_event, with_json
from tests.support.webhooks import AddAccount, Deliver, receipts
from tether.db.connection import Connection

LEAD = "+14155552671"
OURS = "+16502530000"


def whatsapp_inbound(sid: str, body: str = "Hola, can you call me?") -> list[tuple[str, str]]:
    """A WhatsApp message's webhook parameters, as Twilio's WhatsApp docs list them."""
    return [
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ProfileName", "Ana"),
        ("MessageType", "text"),
        ("SmsSid", sid),
        ("WaId", LEAD[1:]),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", f"whatsapp:{OURS}"),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", f"whatsapp:{LEAD}"),
        ("ApiVersion", "2010-04-01"),
    ]


def stored_event(admin: Connection, event: dict[str, Any]) -> dict[str, Any]:
    [receipt] = receipts(admin, event["pathParameters"]["account_id"])
    stored: dict[str, Any] = receipt["event"]
    return stored


def test_a_twilio_whatsapp_message_signed_by_the_sdk_is_stored_as_whatsapp(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    sid = f"SM{uuid.uuid4().hex}"
    event = twilio_form(add_account, "twilio", whatsapp_inbound(sid))
    assert deliver(event)["statusCode"] == 200
    stored = stored_event(admin, event)
    assert stored["kind"] == "inbound_message"
    assert (stored["channel"], stored["from_address"], stored["to_address"]) == (
        "whatsapp",
        LEAD,
        OURS,
    )


def test_a_tampered_twilio_whatsapp_message_is_401(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    event = twilio_form(add_account, "twilio", whatsapp_inbound(f"SM{uuid.uuid4().hex}"))
    event["body"] = event["body"].replace("whatsapp%3A%2B1415", "whatsapp%3A%2B1416")
    assert deliver(event)["statusCode"] == 401
    assert receipts(admin, event["pathParameters"]["account_id"]) == []


@pytest.mark.parametrize("status", ["sent", "delivered", "read"])
def test_twilio_whatsapp_statuses_are_whatsapp_and_read_is_kept(
    status: str, deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    sid = f"SM{uuid.uuid4().hex}"
    pairs = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("MessageStatus", status),
        ("ChannelPrefix", "whatsapp"),
        ("To", f"whatsapp:{LEAD}"),
        ("From", f"whatsapp:{OURS}"),
    ]
    event = twilio_form(add_account, "twilio", pairs, secret=AUTH_TOKEN)
    assert deliver(event)["statusCode"] == 200
    stored = stored_event(admin, event)
    assert (stored["kind"], stored["status"], stored["channel"]) == (
        "status_update",
        status,
        "whatsapp",
    )
    assert stored["to_address"] == LEAD


def test_a_telnyx_whatsapp_message_is_stored_as_whatsapp(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    account_id = add_account("telnyx")

    def whatsapp(body: dict[str, Any]) -> None:
        body["data"]["id"] = str(uuid.uuid4())
        body["data"]["payload"]["id"] = str(uuid.uuid4())
        body["data"]["payload"]["type"] = "WHATSAPP"

    event = signed_event(with_json(load_sample("telnyx_inbound"), whatsapp), account_id=account_id)
    assert deliver(event)["statusCode"] == 200
    stored = stored_event(admin, event)
    assert stored["channel"] == "whatsapp"
    payload = json.loads(event["body"])["data"]["payload"]
    assert stored["from_address"] == payload["from"]["phone_number"]


def test_a_sandbox_whatsapp_message_is_stored_as_whatsapp(
    deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    account_id = add_account("sandbox")

    def whatsapp(body: dict[str, Any]) -> None:
        body["data"]["id"] = f"SM{uuid.uuid4().hex}"
        body["data"]["from"] = f"whatsapp:{LEAD}"
        body["data"]["to"] = f"whatsapp:{OURS}"
        body["data"]["channel"] = "whatsapp"

    event = load_sample("sandbox_inbound")
    event["headers"]["webhook-id"] = f"msg_{uuid.uuid4().hex}"
    event = signed_event(with_json(event, whatsapp), account_id=account_id)
    assert deliver(event)["statusCode"] == 200
    stored = stored_event(admin, event)
    assert (stored["channel"], stored["from_address"], stored["to_address"]) == (
        "whatsapp",
        LEAD,
        OURS,
    )
