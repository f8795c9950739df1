"""SignalHouse: group webhooks, JSON, signed with hex HMAC-SHA256 over
"{X-SignalHouse-Timestamp}.{raw body}" (the timestamp in milliseconds).

Every delivery carries `X-SignalHouse-Delivery-Id`, a UUID for this event to this
endpoint that stays the same on every retry (each retry is signed afresh with a new
timestamp): it is the event's identity. The body is SignalHouse's notification record,
`{"timestamp", "event", "identifier", "metaData": {"Message": {...}}}`, where the message
has `senderPhoneNumber`, `recipientPhoneNumber`, `messageBody` and `mediaUrls`, as in its
send API. SignalHouse waits 3 seconds for an answer and retries only on 5xx, 429 and
timeouts, three attempts in about 11 seconds: every 4xx is final.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.events import InboundMessage, Provider, StatusUpdate
from tether.domain.message_status import MessageStatus
from tether.webhooks import signatures
from tether.webhooks.errors import MalformedPayload
from tether.webhooks.providers.base import (
    JSON,
    ParsedDelivery,
    code_text,
    event_time,
    json_object,
    make_event,
    read_model,
    sha256_hex,
)
from tether.webhooks.request import WebhookRequest

INBOUND_EVENTS = frozenset({"MESSAGE_RECEIVED"})
_S = MessageStatus
STATUS_EVENTS: dict[str, MessageStatus] = {
    "MESSAGE_QUEUED": _S.QUEUED,
    "MESSAGE_SENT": _S.SENT,
    "MESSAGE_DELIVERED": _S.DELIVERED,
    "MESSAGE_UNDELIVERED": _S.UNDELIVERED,
    "MESSAGE_FAILED": _S.FAILED,
    "SMS_FAILED": _S.FAILED,
    "MMS_FAILED": _S.FAILED,
}


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = Field(default=None, alias="_id")
    sender: str | None = Field(default=None, alias="senderPhoneNumber")
    recipients: str | list[str] | None = Field(default=None, alias="recipientPhoneNumber")
    body: str | None = Field(default=None, alias="messageBody")
    media_urls: list[str] = Field(default=[], alias="mediaUrls")
    error_code: object = Field(default=None, alias="errorCode")  # read by code_text
    error_message: str | None = Field(default=None, alias="errorMessage")

    @property
    def recipient(self) -> str | None:
        to = self.recipients
        return (to[0] if to else None) if isinstance(to, list) else to


class _MetaData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: _Message | None = Field(default=None, alias="Message")


class _Notification(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    timestamp: object = None  # read by event_time
    event: str = Field(min_length=1)
    identifier: str | None = None
    meta_data: _MetaData | None = Field(default=None, alias="metaData")


class SignalHouse:
    name: Provider = "signalhouse"
    media_types = frozenset({JSON})

    def verify(self, request: WebhookRequest, secrets: list[str], now: datetime) -> None:
        signatures.verify_signalhouse(
            signatures.require_header(
                request.header("x-signalhouse-signature"), "X-SignalHouse-Signature"
            ),
            signatures.require_header(
                request.header("x-signalhouse-timestamp"), "X-SignalHouse-Timestamp"
            ),
            request.body,
            secrets,
            now,
        )

    def parse(self, request: WebhookRequest, received_at: datetime) -> ParsedDelivery:
        delivery_id = (request.header("x-signalhouse-delivery-id") or "").strip()
        if not delivery_id:
            raise MalformedPayload("the X-SignalHouse-Delivery-Id header is missing")
        notification = read_model(_Notification, json_object(request.body), "notification")
        fingerprint = sha256_hex(request.body)
        event_name = notification.event.upper()
        if event_name not in INBOUND_EVENTS and event_name not in STATUS_EVENTS:
            return ParsedDelivery(delivery_id, None, notification.event, fingerprint)
        message = (notification.meta_data.message if notification.meta_data else None) or _Message()
        external_id = notification.identifier or message.id
        if not external_id:
            raise MalformedPayload(
                f"{notification.event}: neither identifier nor metaData.Message._id"
            )
        occurred_at = event_time(notification.timestamp, received_at)
        if event_name in INBOUND_EVENTS:
            inbound = make_event(
                InboundMessage,
                notification.event,
                provider=self.name,
                external_id=external_id,
                from_address=message.sender,
                to_address=message.recipient,
                body=message.body or "",
                media_urls=tuple(message.media_urls),
                occurred_at=occurred_at,
            )
            return ParsedDelivery(delivery_id, inbound, notification.event, fingerprint)
        update = make_event(
            StatusUpdate,
            notification.event,
            provider=self.name,
            external_id=external_id,
            from_address=message.sender,
            to_address=message.recipient,
            status=STATUS_EVENTS[event_name],
            error_code=code_text(message.error_code),
            error_reason=message.error_message,
            occurred_at=occurred_at,
        )
        return ParsedDelivery(delivery_id, update, notification.event, fingerprint)
