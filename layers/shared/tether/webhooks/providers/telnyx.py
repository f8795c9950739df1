"""Telnyx (API v2): JSON events signed with Ed25519 over "{telnyx-timestamp}|{raw body}".

`{"data": {"id", "event_type", "occurred_at", "payload": {...}}, "meta": {"attempt",
"delivered_to"}}`. `data.id` names the event and stays the same on every retry, while
`meta.attempt` counts up, so the fingerprint covers `data` only.
`message.received` is an inbound message; `message.sent` and `message.finalized`
report on a sent one, through the recipient's `status` and the `errors` list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.events import InboundMessage, Provider, StatusUpdate
from tether.domain.media import declared_type
from tether.domain.message_status import MessageStatus
from tether.webhooks import signatures
from tether.webhooks.providers.base import (
    JSON,
    ParsedDelivery,
    channel_addresses,
    code_text,
    event_time,
    json_fingerprint,
    json_object,
    make_event,
    read_model,
)
from tether.webhooks.request import WebhookRequest

_S = MessageStatus
STATUSES: dict[str, MessageStatus] = {
    "queued": _S.QUEUED,
    "sending": _S.SENDING,
    "sent": _S.SENT,
    "delivered": _S.DELIVERED,
    "sending_failed": _S.FAILED,
    "delivery_failed": _S.UNDELIVERED,
    # finalized without a carrier receipt: all Telnyx knows is that it was sent
    "delivery_unconfirmed": _S.SENT,
    "read": _S.READ,  # a WhatsApp read receipt
}


class _Address(BaseModel):
    model_config = ConfigDict(extra="ignore")

    phone_number: str
    status: str | None = None


class _Media(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str
    content_type: object = None  # read by declared_type


class _Error(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: object = None  # read by code_text
    title: str | None = None
    detail: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1)
    from_: _Address = Field(alias="from")
    to: list[_Address] = Field(min_length=1)
    text: str | None = None
    media: list[_Media] = []
    errors: list[_Error] = []
    type: str | None = None  # SMS, MMS, WHATSAPP (the send API's word for it)

    @property
    def whatsapp(self) -> bool:
        return (self.type or "").upper() == "WHATSAPP"


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    event_type: str
    occurred_at: object = None  # read by event_time
    payload: dict[str, Any] = {}


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: _Data


class Telnyx:
    name: Provider = "telnyx"
    media_types = frozenset({JSON})

    def verify(self, request: WebhookRequest, secrets: list[str], now: datetime) -> None:
        signatures.verify_telnyx(
            signatures.require_header(
                request.header("telnyx-signature-ed25519"), "telnyx-signature-ed25519"
            ),
            signatures.require_header(request.header("telnyx-timestamp"), "telnyx-timestamp"),
            request.body,
            secrets,
            now,
        )

    def parse(self, request: WebhookRequest, received_at: datetime) -> ParsedDelivery:
        body = json_object(request.body)
        data = read_model(_Envelope, body, "Telnyx event").data
        fingerprint = json_fingerprint(body["data"])
        occurred_at = event_time(data.occurred_at, received_at)
        if data.event_type == "message.received":
            m = read_model(_Message, data.payload, "data.payload")
            channel, (sender, recipient) = channel_addresses(
                m.from_.phone_number, m.to[0].phone_number, whatsapp=m.whatsapp
            )
            inbound = make_event(
                InboundMessage,
                "message.received",
                provider=self.name,
                external_id=m.id,
                from_address=sender,
                to_address=recipient,
                channel=channel,
                body=m.text or "",
                media_urls=tuple(media.url for media in m.media),
                media_types=tuple(declared_type(media.content_type) for media in m.media),
                occurred_at=occurred_at,
            )
            return ParsedDelivery(data.id, inbound, data.event_type, fingerprint)
        if data.event_type in ("message.sent", "message.finalized"):
            m = read_model(_Message, data.payload, "data.payload")
            status = STATUSES.get((m.to[0].status or "").lower())
            error = m.errors[0] if m.errors else None
            channel, (sender, recipient) = channel_addresses(
                m.from_.phone_number, m.to[0].phone_number, whatsapp=m.whatsapp
            )
            update = (
                make_event(
                    StatusUpdate,
                    data.event_type,
                    provider=self.name,
                    external_id=m.id,
                    from_address=sender,
                    to_address=recipient,
                    channel=channel,
                    status=status,
                    error_code=code_text(error.code) if error else None,
                    error_reason=(error.detail or error.title) if error else None,
                    occurred_at=occurred_at,
                )
                if status is not None
                else None
            )
            return ParsedDelivery(data.id, update, data.event_type, fingerprint)
        return ParsedDelivery(data.id, None, data.event_type, fingerprint)
