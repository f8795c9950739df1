"""SignalWire: compatibility (cXML) callbacks are Twilio's, form-encoded and signed the
Twilio way (in `X-SignalWire-Signature` or `X-Twilio-Signature`); JSON callbacks
(RELAY messaging events) are signed with lower-hex HMAC-SHA1 over the URL and the raw
body, with the project's signing key.

A RELAY messaging event is `{"event_type": "messaging.receive" | "messaging.state",
"timestamp": <epoch seconds>, "params": {"message_id", "message_state", "from_number",
"to_number", "body", "media", "reason", ...}}`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.events import InboundMessage, Provider, StatusUpdate
from tether.webhooks import signatures
from tether.webhooks.errors import MalformedPayload
from tether.webhooks.providers.base import (
    FORM,
    JSON,
    ParsedDelivery,
    event_time,
    json_object,
    make_event,
    read_model,
    sha256_hex,
)
from tether.webhooks.providers.twilio import (
    STATUSES,
    parse_compatible,
    verify_compatible,
)
from tether.webhooks.request import WebhookRequest

SIGNATURE_HEADERS = ("x-signalwire-signature", "x-twilio-signature")


class _RelayParams(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message_id: str = Field(min_length=1)
    message_state: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    body: str | None = None
    media: list[str] = []
    reason: str | None = None


class _RelayEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_type: str
    timestamp: object = None  # Unix seconds, read by event_time
    params: dict[str, object] = {}


class SignalWire:
    name: Provider = "signalwire"
    media_types = frozenset({FORM, JSON})

    def verify(self, request: WebhookRequest, secrets: list[str], now: datetime) -> None:
        if request.media_type != JSON:
            verify_compatible(request, secrets, SIGNATURE_HEADERS)
            return
        signature = signatures.require_header(
            next((v for h in SIGNATURE_HEADERS if (v := request.header(h))), None),
            "X-SignalWire-Signature",
        )
        signatures.verify_signalwire_json(
            signature, secrets, request.url.candidates(), request.body
        )

    def parse(self, request: WebhookRequest, received_at: datetime) -> ParsedDelivery:
        if request.media_type != JSON:
            return parse_compatible(self.name, request, received_at)
        fingerprint = sha256_hex(request.body)
        envelope = read_model(_RelayEvent, json_object(request.body), "RELAY event")
        occurred_at = event_time(envelope.timestamp, received_at)
        if envelope.event_type == "messaging.receive":
            p = read_model(_RelayParams, envelope.params, "messaging.receive params")
            inbound = make_event(
                InboundMessage,
                "messaging.receive",
                provider=self.name,
                external_id=p.message_id,
                from_address=p.from_number,
                to_address=p.to_number,
                body=p.body or "",
                media_urls=tuple(p.media),
                occurred_at=occurred_at,
            )
            return ParsedDelivery(p.message_id, inbound, envelope.event_type, fingerprint)
        if envelope.event_type == "messaging.state":
            p = read_model(_RelayParams, envelope.params, "messaging.state params")
            state = (p.message_state or "").lower()
            if not state:
                raise MalformedPayload("messaging.state params: message_state is missing")
            canonical = STATUSES.get(state)
            update = (
                make_event(
                    StatusUpdate,
                    "messaging.state",
                    provider=self.name,
                    external_id=p.message_id,
                    from_address=p.from_number,
                    to_address=p.to_number,
                    status=canonical,
                    error_reason=p.reason,
                    occurred_at=occurred_at,
                )
                if canonical is not None
                else None
            )
            return ParsedDelivery(
                f"{p.message_id}:{state}", update, envelope.event_type, fingerprint
            )
        return ParsedDelivery(f"sha256:{fingerprint}", None, envelope.event_type, fingerprint)
