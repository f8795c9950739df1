"""SignalHouse (signalhouse.io), the provider the seeds were written for, API v2.

Send: ``POST {api}/message/sms`` with JSON ``senderPhoneNumber``,
``recipientPhoneNumber`` (a list, singular name), ``messageBody``,
``statusCallbackUrl``; MMS is ``POST {api}/message/mms`` as multipart with ``mediaUrls``
as a JSON list. Numbers are digits only, country code included (``15551234567``).
``Authorization: Bearer <API key>`` and ``Idempotency-Key``: a retry with the same key
and request replays the first answer, so a send is safe to retry.

A 201 does not mean the text is out: a moderation block or a campaign opt-out still
answers 201 with ``enqueuedCount`` 0 and the recipient's message ``FAILED`` (errorCode
``OUT`` for an opt-out), and a recipient on the global Do Not Contact list is listed in
``dncBlockedNumbers`` with no message at all. The adapter reads ``enqueuedCount``.
(Source: SignalHouse's own Python SDK, ``signalhouse`` on PyPI, and its bundled docs.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tether.domain.message_status import MessageStatus
from tether.observability import logger
from tether.providers.base import (
    ProviderError,
    ProviderErrorKind,
    SendAccepted,
    SendCommand,
    kind_for,
    whatsapp_unsupported,
)
from tether.providers.transport import (
    READ_TIMEOUT_SECONDS,
    HttpResponse,
    accepted_message,
    error_code,
    error_for_status,
    http_request,
)

SIGNALHOUSE_API_URL = "https://v2.signalhouse.io"

K = ProviderErrorKind

# SignalHouse documents one stable per-message code: "OUT", a campaign opt-out. Other
# refusals are told by the HTTP status (see classify_signalhouse_error).
SIGNALHOUSE_ERROR_KINDS: dict[str, ProviderErrorKind] = {
    "OUT": K.UNSUBSCRIBED,
}

_STATUSES: dict[str, MessageStatus] = {
    "ENQUEUED": MessageStatus.QUEUED,
    "DEQUEUED": MessageStatus.SENDING,
    "SENT": MessageStatus.SENT,
    "DELIVERED": MessageStatus.DELIVERED,
    "FAILED": MessageStatus.FAILED,
}


def classify_signalhouse_error(http_status: int | None, code: str | None) -> ProviderErrorKind:
    # A 409 on an idempotent request is taken as "the first request with this key is
    # still in flight": retrying later replays its answer.
    if http_status == 409 and code is None:
        return K.RETRYABLE
    return kind_for(http_status, code, SIGNALHOUSE_ERROR_KINDS)


def classify_signalhouse_block(
    error_code: str | None, *, on_do_not_contact_list: bool, filtered_out: bool
) -> ProviderErrorKind:
    """The kind of a send SignalHouse answered 201 but did not enqueue."""
    if on_do_not_contact_list:
        return K.UNSUBSCRIBED
    if error_code is not None and error_code in SIGNALHOUSE_ERROR_KINDS:
        return SIGNALHOUSE_ERROR_KINDS[error_code]
    if filtered_out:
        # filterLandlinesAndInactiveNumbers dropped it: a landline or a dead number.
        return K.NOT_SMS_CAPABLE
    # FAILED with no code: the moderation filter blocked the content.
    return K.FILTERED


def signalhouse_number(e164: str) -> str:
    """SignalHouse's form of a number: the E.164 digits without the plus."""
    return e164.removeprefix("+")


class SignalHouseProvider:
    name = "signalhouse"
    supports_idempotency_key = True

    def __init__(
        self,
        api_key: str,
        *,
        group_id: str | None = None,
        api_url: str = SIGNALHOUSE_API_URL,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._authorization = f"Bearer {api_key}"
        self._group_id = group_id
        self._read_timeout = read_timeout

    def send(self, command: SendCommand) -> SendAccepted:
        if command.channel == "whatsapp":
            raise whatsapp_unsupported(self.name, "SignalHouse")
        headers = {
            "Authorization": self._authorization,
            "Accept": "application/json",
            "Idempotency-Key": command.idempotency_key,
        }
        sender = signalhouse_number(command.from_number)
        recipient = signalhouse_number(command.to_number)
        if command.media_urls:
            fields = {
                "senderPhoneNumber": sender,
                "recipientPhoneNumber": json.dumps([recipient]),
                "messageBody": command.body,
                "mediaUrls": json.dumps(list(command.media_urls)),
                "enableShortlink": "false",
            }
            if command.status_callback_url:
                fields["statusCallbackUrl"] = command.status_callback_url
            response = http_request(
                self.name,
                "POST",
                f"{self._api_url}/message/mms",
                headers=headers,
                fields=fields,
                read_timeout=self._read_timeout,
            )
        else:
            payload: dict[str, Any] = {
                "senderPhoneNumber": sender,
                "recipientPhoneNumber": [recipient],
                "messageBody": command.body,
                # Shortlinks would rewrite the body, and find_sent compares bodies.
                "enableShortlink": False,
            }
            if command.status_callback_url:
                payload["statusCallbackUrl"] = command.status_callback_url
            response = http_request(
                self.name,
                "POST",
                f"{self._api_url}/message/sms",
                headers={**headers, "Content-Type": "application/json"},
                body=json.dumps(payload).encode(),
                read_timeout=self._read_timeout,
            )
        if not response.ok:
            raise self._error(response)
        return accepted_message(self.name, command, self._enqueued(response, recipient))

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        if not self._group_id:
            raise ProviderError(self.name, K.AUTH, "looking up sent messages needs a group_id")
        since = sent_after.astimezone(UTC).replace(microsecond=0)
        # The message list wants a group and a date range, both bound by whole UTC days.
        query = urlencode(
            {
                "groupId": self._group_id,
                "senderPhoneNumber": signalhouse_number(command.from_number),
                "recipientPhoneNumber": signalhouse_number(command.to_number),
                "direction": "OUTBOUND",
                "startDate": since.date().isoformat(),
                "endDate": datetime.now(UTC).date().isoformat(),
                "sortField": "createdAt",
                "sortOrder": "desc",
                "limit": "50",
            }
        )
        response = http_request(
            self.name,
            "GET",
            f"{self._api_url}/message?{query}",
            headers={"Authorization": self._authorization, "Accept": "application/json"},
            read_timeout=self._read_timeout,
        )
        if not response.ok:
            raise self._error(response)
        for message in _message_list(response.json()):
            if message.get("messageBody") == command.body and _created_since(message, since):
                return self._accepted(message)
        return None

    def _enqueued(self, response: HttpResponse, recipient: str) -> SendAccepted:
        """The accepted message of a 201, or the ProviderError of a send it did not enqueue."""
        payload = _unwrapped(response.json())
        inserted = payload.get("insertedMessages")
        messages = (
            [m for m in inserted if isinstance(m, dict)] if isinstance(inserted, list) else []
        )
        enqueued = payload.get("enqueuedCount")
        if enqueued is None:
            enqueued = sum(1 for m in messages if m.get("status") != "FAILED")
        if isinstance(enqueued, int) and enqueued > 0 and messages:
            return self._accepted(messages[0])
        error_code = messages[0].get("errorCode") if messages else None
        code = str(error_code) if error_code not in (None, "") else None
        kind = classify_signalhouse_block(
            code,
            on_do_not_contact_list=_lists(payload.get("dncBlockedNumbers"), recipient),
            filtered_out=_lists(payload.get("filteredNumbers"), recipient),
        )
        logger.warning(
            "provider refused message",
            extra={"provider": self.name, "code": code, "kind": str(kind)},
        )
        reason = {
            K.UNSUBSCRIBED: "the recipient opted out or is on the Do Not Contact list",
            K.NOT_SMS_CAPABLE: "filtered out as a landline or inactive number",
            K.FILTERED: "blocked by SignalHouse's moderation filter",
        }.get(kind, "not enqueued")
        raise ProviderError(self.name, kind, reason, code=code, http_status=response.status)

    def _accepted(self, message: Mapping[str, Any]) -> SendAccepted:
        message_id = message.get("_id")
        if not isinstance(message_id, str) or not message_id:
            raise ProviderError(self.name, K.RETRYABLE, "answer without a message id")
        segments = message.get("segmentCount")
        return SendAccepted(
            provider=self.name,
            external_id=message_id,
            status=_STATUSES.get(str(message.get("status")), MessageStatus.QUEUED),
            segments=segments if isinstance(segments, int) and segments > 0 else None,
        )

    def _error(self, response: HttpResponse) -> ProviderError:
        payload = response.json()
        payload = payload if isinstance(payload, dict) else {}
        code = error_code(payload.get("errorCode"))
        message = payload.get("message") or payload.get("error")
        return error_for_status(
            self.name,
            response,
            classify_signalhouse_error(response.status, code),
            code=code,
            reason=message,
        )


def _unwrapped(payload: object) -> Mapping[str, Any]:
    if not isinstance(payload, dict):
        return {}
    data = payload.get("data")
    return data if isinstance(data, dict) else payload


def _message_list(payload: object) -> Sequence[Mapping[str, Any]]:
    # The list's envelope is not in the SDK's docs: take a bare list or one under a key.
    if isinstance(payload, dict):
        for key in ("data", "messages", "docs"):
            if isinstance(payload.get(key), list | dict):
                return _message_list(payload[key])
        return []
    if isinstance(payload, list):
        return [m for m in payload if isinstance(m, dict)]
    return []


def _lists(numbers: object, recipient: str) -> bool:
    if not isinstance(numbers, list):
        return False
    return any(signalhouse_number(str(n)) == recipient for n in numbers)


def _created_since(message: Mapping[str, Any], since: datetime) -> bool:
    created = message.get("createdAt")
    if not isinstance(created, str):
        return False
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment >= since
