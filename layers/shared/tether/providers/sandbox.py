"""The adapter for the local sandbox provider (tether_dev.sandbox): the same door as the real
providers, for tests and local runs. With idempotency keys switched off on both sides it
behaves like a provider without them, and `find_sent` reads its Messages list."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode

from tether.domain.message_status import MessageStatus
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
    error_for_status,
    http_request,
)

K = ProviderErrorKind


class SandboxErrorCode(StrEnum):
    """The error codes of the sandbox provider's API. They live with the adapter so that
    a Lambda importing the providers never imports the sandbox server."""

    UNAUTHORIZED = "unauthorized"
    ACCOUNT_NOT_FOUND = "account_not_found"
    INVALID_REQUEST = "invalid_request"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INVALID_NUMBER = "invalid_number"
    UNSUBSCRIBED = "unsubscribed"
    NOT_SMS_CAPABLE = "not_sms_capable"
    LANDLINE = "landline"
    FILTERED = "filtered"
    REJECTED = "rejected"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    # WhatsApp free-form text outside the 24-hour window: Twilio's code for it
    OUTSIDE_WINDOW = "63016"


C = SandboxErrorCode

SANDBOX_ERROR_KINDS: dict[str, ProviderErrorKind] = {
    C.UNAUTHORIZED: K.AUTH,
    C.ACCOUNT_NOT_FOUND: K.AUTH,
    C.INVALID_REQUEST: K.REJECTED,
    C.IDEMPOTENCY_KEY_REUSED: K.REJECTED,
    C.INVALID_NUMBER: K.INVALID_NUMBER,
    C.UNSUBSCRIBED: K.UNSUBSCRIBED,
    C.NOT_SMS_CAPABLE: K.NOT_SMS_CAPABLE,
    C.LANDLINE: K.LANDLINE,
    C.FILTERED: K.FILTERED,
    C.REJECTED: K.REJECTED,
    C.RATE_LIMITED: K.RETRYABLE,
    C.SERVER_ERROR: K.RETRYABLE,
    C.OUTSIDE_WINDOW: K.REJECTED,
}


def classify_sandbox_error(http_status: int | None, code: str | None) -> ProviderErrorKind:
    return kind_for(http_status, code, SANDBOX_ERROR_KINDS)


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self,
        base_url: str,
        account_id: str,
        api_token: str,
        *,
        supports_idempotency_key: bool = True,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self.supports_idempotency_key = supports_idempotency_key
        self._messages_url = f"{base_url.rstrip('/')}/v1/accounts/{quote(account_id)}/messages"
        self._authorization = f"Bearer {api_token}"
        self._read_timeout = read_timeout

    def send(self, command: SendCommand) -> SendAccepted:
        headers = {
            "Authorization": self._authorization,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if self.supports_idempotency_key:
            headers["Idempotency-Key"] = command.idempotency_key
        payload: dict[str, Any] = {
            "from": command.from_number,
            "to": command.to_number,
            "body": command.body,
            "media_urls": list(command.media_urls),
        }
        if command.status_callback_url:
            payload["status_callback"] = command.status_callback_url
        if command.channel == "whatsapp":
            payload["channel"] = "whatsapp"
            if command.template is not None:
                payload["content_sid"] = command.template.provider_template_id
                payload["content_variables"] = dict(command.template.variables)
        response = http_request(
            self.name,
            "POST",
            self._messages_url,
            headers=headers,
            body=json.dumps(payload).encode(),
            read_timeout=self._read_timeout,
        )
        if not response.ok:
            raise self._error(response)
        return accepted_message(self.name, command, self._accepted(_object(response)))

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        query = urlencode(
            {
                "from": command.from_number,
                "to": command.to_number,
                "date_sent_after": sent_after.astimezone(UTC).isoformat(),
            }
        )
        response = http_request(
            self.name,
            "GET",
            f"{self._messages_url}?{query}",
            headers={"Authorization": self._authorization, "Accept": "application/json"},
            read_timeout=self._read_timeout,
        )
        if not response.ok:
            raise self._error(response)
        messages = _object(response).get("messages")
        for message in messages if isinstance(messages, list) else []:
            if isinstance(message, dict) and message.get("body") == command.body:
                return self._accepted(message)
        return None

    def _accepted(self, message: Mapping[str, Any]) -> SendAccepted:
        sid = message.get("sid")
        if not isinstance(sid, str) or not sid:
            raise ProviderError(self.name, K.RETRYABLE, "answer without a message SID")
        segments = message.get("segments")
        return SendAccepted(
            provider=self.name,
            external_id=sid,
            status=MessageStatus.QUEUED,
            segments=segments if isinstance(segments, int) else None,
        )

    def _error(self, response: HttpResponse) -> ProviderError:
        payload = _object(response).get("error")
        payload = payload if isinstance(payload, dict) else {}
        code = payload.get("code") if isinstance(payload.get("code"), str) else None
        message = payload.get("message")
        return error_for_status(
            self.name,
            response,
            classify_sandbox_error(response.status, code),
            code=code,
            reason=message,
        )


def _object(response: HttpResponse) -> Mapping[str, Any]:
    payload = response.json()
    return payload if isinstance(payload, dict) else {}
