"""Where each provider's inbound sample carries the sender, the recipient and the text,
so tests can put any value there (and sign the result with tests.support.webhook_samples)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.support.webhook_samples import load_sample, with_body, with_json

INBOUND_SAMPLES = (
    "twilio_inbound",
    "signalwire_inbound",
    "signalwire_relay_inbound",
    "telnyx_inbound",
    "signalhouse_inbound",
    "sandbox_inbound",
)


def _relay(body: dict[str, Any], sender: Any, recipient: Any, text: Any, id_: str) -> None:
    body["params"].update(from_number=sender, to_number=recipient, body=text, message_id=id_)


def _telnyx(body: dict[str, Any], sender: Any, recipient: Any, text: Any, id_: str) -> None:
    body["data"]["id"] = f"event-{id_}"
    payload = body["data"]["payload"]
    payload["id"] = id_
    payload["from"]["phone_number"] = sender
    payload["to"][0]["phone_number"] = recipient
    payload["text"] = text


def _signalhouse(body: dict[str, Any], sender: Any, recipient: Any, text: Any, id_: str) -> None:
    body["identifier"] = id_
    body["metaData"]["Message"].update(
        _id=id_, senderPhoneNumber=sender, recipientPhoneNumber=[recipient], messageBody=text
    )


def _sandbox(body: dict[str, Any], sender: Any, recipient: Any, text: Any, id_: str) -> None:
    body["data"].update({"from": sender, "to": recipient, "body": text, "id": id_})


JSON_SETTERS: dict[str, Callable[[dict[str, Any], Any, Any, Any, str], None]] = {
    "signalwire_relay_inbound": _relay,
    "telnyx_inbound": _telnyx,
    "signalhouse_inbound": _signalhouse,
    "sandbox_inbound": _sandbox,
}


def inbound_with(
    name: str, sender: str, recipient: str, text: str, message_id: str | None = None
) -> dict[str, Any]:
    """The inbound sample `name` (unsigned) from `sender` to `recipient` saying `text`,
    as a message and event of its own (new ids, unless `message_id` is given)."""
    id_ = message_id or f"SM{uuid.uuid4().hex}"
    event = load_sample(name)
    # the delivery's identity, where a provider sends it in a header
    event["headers"].update({"webhook-id": f"msg_{id_}", "X-SignalHouse-Delivery-Id": id_})
    if name in JSON_SETTERS:
        return with_json(event, lambda body: JSON_SETTERS[name](body, sender, recipient, text, id_))
    values = {"From": sender, "To": recipient, "Body": text, "MessageSid": id_, "SmsSid": id_}
    values["SmsMessageSid"] = id_
    params = [(k, values.get(k, v)) for k, v in parse_qsl(event["body"], keep_blank_values=True)]
    # a lone surrogate has no UTF-8: a form carries what a gateway would, its CESU bytes
    return with_body(event, urlencode(params, errors="surrogatepass"))
