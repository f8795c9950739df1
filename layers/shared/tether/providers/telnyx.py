"""Telnyx Messaging API v2.

Send: ``POST https://api.telnyx.com/v2/messages`` with JSON ``from``, ``to``, ``text``,
``media_urls``, ``webhook_url``; ``Authorization: Bearer <API key>``. Errors answer
``{"errors": [{"code", "title", "detail"}]}``.

Telnyx has a general ``Idempotency-Key`` contract, but only for endpoints whose API
reference declares it, and the send-message endpoint does not (its generated SDKs expose
the header on other endpoints, never on ``messages.send``). So this adapter sends no key
and reconciles instead: `find_sent` searches the Message Detail Records
(``GET /v2/detail_records``, created when a message is submitted) for outbound records
of this number pair since `sent_after`, then reads each candidate
(``GET /v2/messages/{id}``) to compare the text, which detail records do not carry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from tether.domain.message_status import MessageStatus
from tether.observability import logger
from tether.providers.base import (
    ProviderError,
    ProviderErrorKind,
    SendAccepted,
    SendCommand,
    kind_for,
)
from tether.providers.transport import (
    READ_TIMEOUT_SECONDS,
    HttpResponse,
    accepted_message,
    error_code,
    error_for_status,
    http_request,
)

TELNYX_API_URL = "https://api.telnyx.com/v2"

K = ProviderErrorKind

# developers.telnyx.com: API error codes (1xxxx, answered on the request), messaging
# delivery errors (40xxx, on webhooks and detail records) and 40300 (a STOP block,
# answered with HTTP 409).
TELNYX_ERROR_KINDS: dict[str, ProviderErrorKind] = {
    "10001": K.INVALID_NUMBER,  # inactive phone number
    "10002": K.INVALID_NUMBER,  # invalid phone number
    "10007": K.RETRYABLE,  # unexpected error
    "10008": K.RETRYABLE,  # request timeout
    "10009": K.AUTH,  # authentication failed
    "10010": K.AUTH,  # authorization failed
    "10011": K.RETRYABLE,  # too many requests
    "10016": K.INVALID_NUMBER,  # phone number must be in +E.164 format
    "40001": K.LANDLINE,  # not routable: a landline or non-routable number
    "40002": K.FILTERED,  # blocked as spam (temporary)
    "40003": K.FILTERED,  # blocked as spam (permanent)
    "40004": K.RETRYABLE,  # rejected by destination; Telnyx: retry after a delay
    "40005": K.RETRYABLE,  # message expired before delivery
    "40006": K.RETRYABLE,  # recipient server unavailable
    "40008": K.REJECTED,  # undeliverable
    "40009": K.REJECTED,  # invalid message body
    "40011": K.RETRYABLE,  # upstream rate limit exceeded
    "40012": K.INVALID_NUMBER,  # carrier rejected the destination number
    "40013": K.AUTH,  # carrier rejected our sending number
    "40014": K.RETRYABLE,  # expired in queue
    "40015": K.FILTERED,  # Telnyx internal spam filter
    "40300": K.UNSUBSCRIBED,  # blocked due to a STOP message from the recipient
    # WhatsApp (Meta's codes, passed on by Telnyx)
    "131026": K.NOT_SMS_CAPABLE,  # the recipient is not a WhatsApp user
    "131047": K.REJECTED,  # free-form text outside the 24-hour window
    "132000": K.REJECTED,  # template parameter count mismatch
    "132015": K.REJECTED,  # template paused or disabled by Meta
}

_STATUSES: dict[str, MessageStatus] = {
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivery_unconfirmed": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "delivery_failed": MessageStatus.UNDELIVERED,
    "expired": MessageStatus.UNDELIVERED,
    "sending_failed": MessageStatus.FAILED,
    "read": MessageStatus.READ,  # WhatsApp read receipts
}


def classify_telnyx_error(http_status: int | None, code: str | None) -> ProviderErrorKind:
    return kind_for(http_status, code, TELNYX_ERROR_KINDS)


class TelnyxProvider:
    name = "telnyx"
    supports_idempotency_key = False

    def __init__(
        self,
        api_key: str,
        *,
        api_url: str = TELNYX_API_URL,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._read_timeout = read_timeout

    def send(self, command: SendCommand) -> SendAccepted:
        if command.channel == "whatsapp":
            return self._send_whatsapp(command)
        payload: dict[str, Any] = {
            "from": command.from_number,
            "to": command.to_number,
            "text": command.body,
        }
        if command.media_urls:
            payload["media_urls"] = list(command.media_urls)
            payload["type"] = "MMS"
        if command.status_callback_url:
            payload["webhook_url"] = command.status_callback_url
        response = self._request(
            "POST", f"{self._api_url}/messages", body=json.dumps(payload).encode()
        )
        return accepted_message(self.name, command, self._accepted(_data(response)))

    def _send_whatsapp(self, command: SendCommand) -> SendAccepted:
        """POST /v2/messages/whatsapp: E.164 numbers, and a `whatsapp_message` of type
        text (within the window) or template (an approved one, by name and language,
        its variables as the body component's text parameters in order)."""
        content: dict[str, Any]
        if command.template is not None:
            template: dict[str, Any] = {
                "name": command.template.name,
                "language": {"code": command.template.language},
            }
            values = command.template.variables
            if values:
                template["components"] = [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": values[key]} for key in sorted(values, key=int)
                        ],
                    }
                ]
            content = {"type": "template", "template": template}
        elif command.media_urls:
            content = {
                "type": "image",
                "image": {"link": command.media_urls[0], "caption": command.body},
            }
        else:
            content = {"type": "text", "text": {"body": command.body}}
        payload: dict[str, Any] = {
            "from": command.from_number,
            "to": command.to_number,
            "whatsapp_message": content,
        }
        if command.status_callback_url:
            payload["webhook_url"] = command.status_callback_url
        response = self._request(
            "POST", f"{self._api_url}/messages/whatsapp", body=json.dumps(payload).encode()
        )
        return accepted_message(self.name, command, self._accepted(_data(response)))

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        # Whole seconds: a record's timestamp may be rounded down to its second.
        since = sent_after.astimezone(UTC).replace(microsecond=0)
        query = urlencode(
            {
                "filter[record_type]": "messaging",
                "filter[direction]": "outbound",
                "filter[cli]": command.from_number,
                "filter[cld]": command.to_number,
                # The documented examples filter by date; the exact instant is checked below.
                "filter[created_at][gte]": since.date().isoformat(),
                "sort": "-created_at",
                "page[size]": "50",
            }
        )
        response = self._request("GET", f"{self._api_url}/detail_records?{query}")
        payload = response.json()
        records = payload.get("data") if isinstance(payload, dict) else None
        for record in records if isinstance(records, list) else []:
            if not isinstance(record, dict) or not _created_since(record, since):
                continue
            message_id = record.get("uuid") or record.get("id")
            if not isinstance(message_id, str):
                continue
            message = _data(self._request("GET", f"{self._api_url}/messages/{quote(message_id)}"))
            if message.get("text") == command.body:
                found = self._accepted(message)
                logger.info(
                    "provider already had message",
                    extra={
                        "provider": self.name,
                        "send_key": command.idempotency_key,
                        "external_id": found.external_id,
                    },
                )
                return found
        return None

    def _request(self, method: str, url: str, body: bytes | None = None) -> HttpResponse:
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = http_request(
            self.name, method, url, headers=headers, body=body, read_timeout=self._read_timeout
        )
        if not response.ok:
            raise self._error(response)
        return response

    def _accepted(self, message: Mapping[str, Any]) -> SendAccepted:
        message_id = message.get("id")
        if not isinstance(message_id, str) or not message_id:
            raise ProviderError(self.name, K.RETRYABLE, "answer without a message id")
        recipients = message.get("to")
        first = recipients[0] if isinstance(recipients, list) and recipients else {}
        status = first.get("status") if isinstance(first, dict) else None
        parts = message.get("parts")
        return SendAccepted(
            provider=self.name,
            external_id=message_id,
            status=_STATUSES.get(str(status), MessageStatus.QUEUED),
            segments=parts if isinstance(parts, int) and parts > 0 else None,
        )

    def _error(self, response: HttpResponse) -> ProviderError:
        payload = response.json()
        errors = payload.get("errors") if isinstance(payload, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else {}
        first = first if isinstance(first, dict) else {}
        code = error_code(first.get("code"))
        reason = first.get("detail") or first.get("title")
        return error_for_status(
            self.name,
            response,
            classify_telnyx_error(response.status, code),
            code=code,
            reason=reason,
        )


def _data(response: HttpResponse) -> Mapping[str, Any]:
    payload = response.json()
    data = payload.get("data") if isinstance(payload, dict) else None
    return data if isinstance(data, dict) else {}


def _created_since(record: Mapping[str, Any], since: datetime) -> bool:
    created = record.get("created_at")
    if not isinstance(created, str):
        return False
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment >= since
