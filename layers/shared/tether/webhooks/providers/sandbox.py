"""The local provider sandbox, signed with Standard Webhooks: `webhook-id`,
`webhook-timestamp` (seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`, with a `whsec_<base64>` secret. The id names the event.

`{"type": "message.received" | "message.status", "timestamp": <ISO 8601>,
"data": {"id", "from", "to", "body", "media_urls", "status", "error_code", "error_reason"}}`
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.events import InboundMessage, Provider, StatusUpdate
from tether.domain.message_status import MessageStatus
from tether.webhooks import signatures
from tether.webhooks.providers.base import (
    JSON,
    ParsedDelivery,
    channel_addresses,
    code_text,
    event_time,
    json_object,
    make_event,
    read_model,
    sha256_hex,
)
from tether.webhooks.request import WebhookRequest


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1)
    from_: str = Field(alias="from")
    to: str
    body: str = ""
    media_urls: list[str] = []
    status: MessageStatus | None = None
    error_code: object = None
    error_reason: str | None = None
    channel: str | None = None  # "whatsapp" for a WhatsApp message (or whatsapp: addresses)


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1)
    timestamp: object = None  # read by event_time
    data: dict[str, object] = {}


class Sandbox:
    name: Provider = "sandbox"
    media_types = frozenset({JSON})

    def verify(self, request: WebhookRequest, secrets: list[str], now: datetime) -> None:
        signatures.verify_standard_webhooks(
            signatures.require_header(request.header("webhook-id"), "webhook-id"),
            signatures.require_header(request.header("webhook-timestamp"), "webhook-timestamp"),
            signatures.require_header(request.header("webhook-signature"), "webhook-signature"),
            request.body,
            secrets,
            now,
        )

    def parse(self, request: WebhookRequest, received_at: datetime) -> ParsedDelivery:
        msg_id = (request.header("webhook-id") or "").strip()
        fingerprint = sha256_hex(request.body)
        event = read_model(_Event, json_object(request.body), "sandbox event")
        occurred_at = event_time(event.timestamp, received_at)
        if event.type == "message.received":
            m = read_model(_Message, event.data, "data")
            channel, (sender, recipient) = channel_addresses(
                m.from_, m.to, whatsapp=m.channel == "whatsapp"
            )
            inbound = make_event(
                InboundMessage,
                event.type,
                provider=self.name,
                external_id=m.id,
                from_address=sender,
                to_address=recipient,
                channel=channel,
                body=m.body,
                media_urls=tuple(m.media_urls),
                occurred_at=occurred_at,
            )
            return ParsedDelivery(msg_id, inbound, event.type, fingerprint)
        if event.type == "message.status":
            m = read_model(_Message, event.data, "data")
            channel, (sender, recipient) = channel_addresses(
                m.from_, m.to, whatsapp=m.channel == "whatsapp"
            )
            update = make_event(
                StatusUpdate,
                event.type,
                provider=self.name,
                external_id=m.id,
                from_address=sender,
                to_address=recipient,
                channel=channel,
                status=m.status,
                error_code=code_text(m.error_code),
                error_reason=m.error_reason,
                occurred_at=occurred_at,
            )
            return ParsedDelivery(msg_id, update, event.type, fingerprint)
        return ParsedDelivery(msg_id, None, event.type, fingerprint)
