"""Twilio Programmable Messaging (REST API 2010-04-01), and the Twilio-compatible client
SignalWire's compatibility (LaML) API reuses.

Send: ``POST {api}/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``, ``From``,
``Body``, ``MediaUrl`` (repeated), ``StatusCallback``; HTTP Basic auth with the account
SID and auth token, or an API key SID and secret. Errors answer JSON
``{"code", "message", "more_info", "status"}``.

Twilio's Messages API takes no idempotency key (the ``I-Twilio-Idempotency-Token``
header is on Twilio's webhooks to us, not on our requests), so a send whose outcome is
unknown is reconciled with `find_sent`: the account's Messages filtered by From, To and
DateSent, compared on body and creation time.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from tether.domain.message_status import MessageStatus
from tether.domain.whatsapp import whatsapp_address
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

TWILIO_API_URL = "https://api.twilio.com/2010-04-01"

K = ProviderErrorKind

# Twilio error dictionary (twilio.com/docs/api/errors). 21xxx come back from the send
# request; 30xxx arrive later on status callbacks and are kept here so the webhook side
# classifies delivery failures with the same table.
TWILIO_ERROR_KINDS: dict[str, ProviderErrorKind] = {
    "20003": K.AUTH,  # authenticate: wrong account SID / token
    "20404": K.AUTH,  # resource not found: usually a wrong account SID in the URL
    "20429": K.RETRYABLE,  # too many requests
    "20500": K.RETRYABLE,  # internal server error
    "20503": K.RETRYABLE,  # service unavailable
    "21211": K.INVALID_NUMBER,  # invalid 'To' phone number
    "21212": K.AUTH,  # invalid 'From' phone number: our sender is misconfigured
    "21266": K.REJECTED,  # 'To' and 'From' are the same
    "21408": K.REJECTED,  # no permission to send to this region
    "21602": K.REJECTED,  # message body is required
    "21606": K.AUTH,  # 'From' is not a message-capable number of this account
    "21608": K.AUTH,  # trial account: 'To' not verified
    "21610": K.UNSUBSCRIBED,  # attempt to send to an unsubscribed recipient
    "21611": K.RETRYABLE,  # 'From' has too many queued messages
    "21612": K.NOT_SMS_CAPABLE,  # 'To' cannot be reached by SMS from this 'From'
    "21614": K.NOT_SMS_CAPABLE,  # 'To' is not a valid mobile number
    "21617": K.REJECTED,  # body over 1600 characters
    "21620": K.REJECTED,  # invalid media URL(s)
    "21623": K.REJECTED,  # more media files than a message may carry
    "11751": K.REJECTED,  # media over the channel's size limit (MMS 5 MB)
    "12300": K.REJECTED,  # media Content-Type not accepted
    "30019": K.REJECTED,  # content size over the carrier's limit
    "21635": K.LANDLINE,  # 'To' cannot be a landline
    "21659": K.AUTH,  # 'From' is not a Twilio number
    "30001": K.RETRYABLE,  # queue overflow
    "30002": K.AUTH,  # account suspended
    "30003": K.RETRYABLE,  # unreachable destination handset (often temporary)
    "30004": K.REJECTED,  # message blocked
    "30005": K.INVALID_NUMBER,  # unknown destination handset
    "30006": K.LANDLINE,  # landline or unreachable carrier
    "30007": K.FILTERED,  # carrier filtering (spam)
    "30008": K.REJECTED,  # unknown error
    "30022": K.RETRYABLE,  # US A2P 10DLC throughput exceeded
    "30034": K.AUTH,  # sent from an unregistered 10DLC number
    # WhatsApp: free-form text outside the 24-hour window (Tether's own gate refuses it
    # first; the provider's word is final)
    "63016": K.REJECTED,
}

_STATUSES: dict[str, MessageStatus] = {
    "accepted": MessageStatus.ACCEPTED,
    "scheduled": MessageStatus.ACCEPTED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.CANCELED,
}

# How many pages of a number pair's history `find_sent` reads before giving up.
_MAX_PAGES = 5


def classify_twilio_error(http_status: int | None, code: str | None) -> ProviderErrorKind:
    return kind_for(http_status, code, TWILIO_ERROR_KINDS)


class TwilioCompatibleApi:
    """The Messages resource of a Twilio-compatible REST API (Twilio, SignalWire LaML)."""

    def __init__(
        self,
        *,
        provider: str,
        api_url: str,
        account_sid: str,
        username: str,
        password: str,
        classify: Callable[[int | None, str | None], ProviderErrorKind],
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self.provider = provider
        self._messages_url = f"{api_url.rstrip('/')}/Accounts/{quote(account_sid)}/Messages.json"
        self._origin = "{0.scheme}://{0.netloc}".format(urlsplit(api_url))
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._authorization = f"Basic {token}"
        self._classify = classify
        self._read_timeout = read_timeout

    def send(self, command: SendCommand) -> SendAccepted:
        form: list[tuple[str, str]] = [
            ("To", _address(command, command.to_number)),
            ("From", _address(command, command.from_number)),
        ]
        if command.template is not None:
            # an approved WhatsApp template goes by its Content SID; Body and MediaUrl
            # are left out (the Content API supersedes them)
            form.append(("ContentSid", command.template.provider_template_id))
            if command.template.variables:
                variables = json.dumps(dict(command.template.variables), separators=(",", ":"))
                form.append(("ContentVariables", variables))
        else:
            form.append(("Body", command.body))
            form += [("MediaUrl", url) for url in command.media_urls]
        if command.status_callback_url:
            form.append(("StatusCallback", command.status_callback_url))
        response = http_request(
            self.provider,
            "POST",
            self._messages_url,
            headers={
                "Authorization": self._authorization,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            body=urlencode(form).encode(),
            read_timeout=self._read_timeout,
        )
        if not response.ok:
            raise self._error(response)
        return accepted_message(self.provider, command, self._accepted(_object(response)))

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        since = sent_after.astimezone(UTC).replace(microsecond=0)
        pair = {
            "From": _address(command, command.from_number),
            "To": _address(command, command.to_number),
            "PageSize": "50",
        }
        # DateSent filters by GMT day; a message still queued has no date_sent yet and
        # is left out of that list, so the unfiltered newest page is read as well.
        for params in ({**pair, "DateSent>": since.date().isoformat()}, pair):
            for message in self._messages(params):
                if _is_same_text(message, command, since):
                    found = self._accepted(message)
                    logger.info(
                        "provider already had message",
                        extra={
                            "provider": self.provider,
                            "send_key": command.idempotency_key,
                            "external_id": found.external_id,
                        },
                    )
                    return found
        return None

    def _messages(self, params: Mapping[str, str]) -> Iterator[Mapping[str, Any]]:
        url: str | None = f"{self._messages_url}?{urlencode(params)}"
        for _ in range(_MAX_PAGES):
            if url is None:
                return
            response = http_request(
                self.provider,
                "GET",
                url,
                headers={"Authorization": self._authorization, "Accept": "application/json"},
                read_timeout=self._read_timeout,
            )
            if not response.ok:
                raise self._error(response)
            page = _object(response)
            messages = page.get("messages")
            yield from messages if isinstance(messages, list) else []
            next_uri = page.get("next_page_uri")
            url = f"{self._origin}{next_uri}" if isinstance(next_uri, str) and next_uri else None

    def _accepted(self, message: Mapping[str, Any]) -> SendAccepted:
        sid = message.get("sid")
        if not isinstance(sid, str) or not sid:
            raise ProviderError(self.provider, K.RETRYABLE, "answer without a message SID")
        return SendAccepted(
            provider=self.provider,
            external_id=sid,
            status=_STATUSES.get(str(message.get("status")), MessageStatus.QUEUED),
            segments=_segments(message.get("num_segments")),
        )

    def _error(self, response: HttpResponse) -> ProviderError:
        payload = response.json()
        payload = payload if isinstance(payload, dict) else {}
        code = error_code(payload.get("code"))
        message = payload.get("message")
        return error_for_status(
            self.provider,
            response,
            self._classify(response.status, code),
            code=code,
            reason=message,
        )


class TwilioProvider:
    """A Twilio account. Authenticates with an API key when one is given (Twilio's advice
    for production), else with the account's auth token."""

    name = "twilio"
    supports_idempotency_key = False

    def __init__(
        self,
        account_sid: str,
        auth_token: str | None = None,
        *,
        api_key_sid: str | None = None,
        api_key_secret: str | None = None,
        api_url: str = TWILIO_API_URL,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        if api_key_sid and api_key_secret:
            username, password = api_key_sid, api_key_secret
        elif auth_token:
            username, password = account_sid, auth_token
        else:
            raise ProviderError(self.name, K.AUTH, "needs an auth token or an API key and secret")
        self._api = TwilioCompatibleApi(
            provider=self.name,
            api_url=api_url,
            account_sid=account_sid,
            username=username,
            password=password,
            classify=classify_twilio_error,
            read_timeout=read_timeout,
        )

    def send(self, command: SendCommand) -> SendAccepted:
        return self._api.send(command)

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        return self._api.find_sent(command, sent_after)


def _address(command: SendCommand, e164: str) -> str:
    """A number as the Messages API wants it on the command's channel: WhatsApp
    addresses are `whatsapp:+E164`."""
    return whatsapp_address(e164) if command.channel == "whatsapp" else e164


def _object(response: HttpResponse) -> Mapping[str, Any]:
    payload = response.json()
    return payload if isinstance(payload, dict) else {}


def _segments(value: object) -> int | None:
    # Twilio sends num_segments as a string, SignalWire as a number; a Messaging Service
    # send reports 0 until a sender is chosen, which means "not known yet".
    try:
        segments = int(str(value))
    except ValueError:
        return None
    return segments if segments > 0 else None


def _is_same_text(message: Mapping[str, Any], command: SendCommand, since: datetime) -> bool:
    if not str(message.get("direction", "")).startswith("outbound"):
        return False
    if message.get("body") != command.body:
        return False
    created = _rfc2822(message.get("date_created"))
    # Whole seconds on both sides: `since` was truncated to the second it falls in.
    return created is not None and created >= since


def _rfc2822(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
