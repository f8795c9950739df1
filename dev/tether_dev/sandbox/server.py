"""The sandbox provider: a real HTTP server shaped like an SMS provider, for tests and
local runs (never Lambda). Start it in-process on 127.0.0.1 (port 0 picks a free port),
point the sandbox adapter at `url`, read what it accepted with `texts()`, stop it.

API (JSON; ``Authorization: Bearer <api_token>``):

- ``POST /v1/accounts/{account_id}/messages`` with ``from``, ``to`` (E.164), ``body``,
  ``media_urls``, ``status_callback`` and an optional ``Idempotency-Key`` header.
  201 with ``{"sid": "SM<32 hex>", "status": "queued", "segments": n, ...}``; the same
  key answers the same 201 and records no second text (unless keys are switched off);
  errors are ``{"error": {"code", "message"}}`` with a provider-like status.
- ``GET /v1/accounts/{account_id}/messages?from=&to=&date_sent_after=`` lists accepted
  texts, newest first (like Twilio's Messages list).

It talks back like a provider (tether_dev.sandbox.callbacks): status callbacks queued
→ sent → delivered for each accepted text that named a ``status_callback``, posted to
that URL (a text without one gets none, as at every real provider), and, with a
``webhook_url`` (the local stack sets it), replies from leads:

- ``POST /sandbox/replies`` with ``from`` (the lead), ``to`` (one of our numbers),
  ``body`` and an optional ``account_id`` (by default, the account that last sent from
  ``to``) posts a signed ``message.received`` to that account's webhook. 202 with the
  event's id, account and the webhook's HTTP status. No token: it stands for the phone
  network, not for the API. ``"channel": "whatsapp"`` makes it a WhatsApp message (its
  addresses ``whatsapp:+E164``, as Twilio's), and ``sent_at`` (ISO 8601, in the past)
  says when the person sent it. An MMS adds ``media``, a list of ``{"content_type",
  "base64"}``: the sandbox keeps each file and lists its URL in the event's
  ``media_urls`` (and ``media_urls`` given as they are), as providers do.
- ``GET /sandbox/media/{account_id}/{id}``: a file an MMS carried, for HTTP Basic auth
  with the account id and the API token (as Twilio's media answer the account SID and
  auth token); 401 without them.

WhatsApp (issue 18): a send with ``"channel": "whatsapp"`` goes as Twilio's does. Free-
form text (no ``content_sid``) is taken only within 24 hours of the person's last
WhatsApp message to that number (a reply above); outside, it is refused as Twilio
refuses it: 400 with code ``63016``. A template send (``content_sid`` and
``content_variables``) goes at any time. WhatsApp texts are read after delivery.

``POST /sandbox/calls`` posts how a call ended, as the voice side would (a VAPI
end-of-call report or a Twilio/SignalWire call status callback): tether_dev.sandbox.calls.

A send's ``media_urls`` must be http(s) URLs, at most 10 (Twilio's limit): else 400.

With ``open_accounts`` any account id is served (one sandbox for every tenant's
provider account locally: the account id in the URL is Tether's provider account id).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tether.domain.segments import count_segments
from tether.observability import logger
from tether.providers.sandbox import SandboxErrorCode
from tether_dev.sandbox.callbacks import Delivery, StatusCallbacks, WebhookPoster
from tether_dev.sandbox.calls import CallRefused, post_call
from tether_dev.sandbox.faults import DEFAULT_FAULT_NUMBERS, FAULT_ANSWERS, FaultPlan, SandboxFault
from tether_dev.wire import WholeResponseHandler

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_MESSAGES_PATH = re.compile(r"^/v1/accounts/(?P<account_id>[^/]+)/messages/?$")
_REPLIES_PATH = "/sandbox/replies"
_CALLS_PATH = "/sandbox/calls"
_MEDIA_PATH = re.compile(r"^/sandbox/media/(?P<account_id>[^/]+)/(?P<media_id>[A-Za-z0-9]+)$")
MAX_MEDIA = 10
MAX_BODY_CHARS = 1600
WHATSAPP_MAX_BODY_CHARS = 4096
# WhatsApp's customer-service window, as the providers enforce it
WHATSAPP_WINDOW = timedelta(hours=24)
# The signing secret of the sandbox's webhooks (Standard Webhooks): a provider account
# of the sandbox is configured with `local:` and this (signing_secret_ref).
DEV_SIGNING_SECRET = "whsec_" + "dGV0aGVyIHNhbmRib3ggZGV2ZWxvcG1lbnQga2V5ISE="


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    account_id: str = "sandbox"
    api_token: str = "sandbox-token"  # noqa: S105 - a local simulator's fixed token
    # Off simulates a provider without idempotency keys: a retry is a second text.
    honour_idempotency_keys: bool = True
    faults_by_number: Mapping[str, SandboxFault] = field(
        default_factory=lambda: dict(DEFAULT_FAULT_NUMBERS)
    )
    fault_rates: Mapping[SandboxFault, float] = field(default_factory=dict)
    seed: int = 0
    latency_seconds: float = 0.0  # before every send is handled
    latency_jitter_seconds: float = 0.0  # plus a uniform random extra up to this
    stall_seconds: float = 30.0  # how late a TIMEOUT fault answers
    # Replies go to f"{webhook_url}/{account_id}" when set; status callbacks go to the
    # URL each send names, whether or not this is set.
    webhook_url: str | None = None
    signing_secret: str = DEV_SIGNING_SECRET
    callback_delay_seconds: float = 0.5  # between a send's answer and each next status
    undelivered_rate: float = 0.0  # the share of texts whose last status is undelivered
    intermediate_statuses: tuple[str, ...] = ("queued", "sent")  # called back before the last
    callback_lanes: int = 1  # status callbacks posted at once (each text's in order)
    open_accounts: bool = False  # serve any account id, not only `account_id`


@dataclass(frozen=True, slots=True)
class SandboxText:
    """A text the sandbox accepted."""

    sid: str
    account_id: str
    from_number: str
    to_number: str
    body: str
    media_urls: tuple[str, ...]
    status_callback_url: str | None
    idempotency_key: str | None
    segments: int
    encoding: str
    created_at: datetime
    channel: str = "sms"
    content_sid: str | None = None  # a WhatsApp template send's template
    content_variables: Mapping[str, str] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_id": self.account_id,
            "from": self.from_number,
            "to": self.to_number,
            "body": self.body,
            "media_urls": list(self.media_urls),
            "status_callback": self.status_callback_url,
            "idempotency_key": self.idempotency_key,
            "status": "queued",
            "segments": self.segments,
            "encoding": self.encoding,
            "date_created": self.created_at.isoformat(),
            "channel": self.channel,
            "content_sid": self.content_sid,
            "content_variables": dict(self.content_variables or {}),
        }


@dataclass(frozen=True, slots=True)
class _Reply:
    fingerprint: str
    status: int
    payload: dict[str, Any]


class _RequestRefused(Exception):
    def __init__(self, status: int, code: SandboxErrorCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class SandboxServer:
    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_text_accepted: Callable[[SandboxText], None] | None = None,
    ) -> None:
        self._config = config or SandboxConfig()
        self._plan = self._plan_for(self._config)
        self._address = (host, port)
        self._on_text_accepted = on_text_accepted
        self._lock = threading.Lock()
        self._texts: list[SandboxText] = []
        self._replies: dict[str, _Reply] = {}
        # (our number, their number): when the person last wrote on WhatsApp
        self._whatsapp_inbound: dict[tuple[str, str], datetime] = {}
        # media MMS replies carried, by id: (account id, content type, bytes)
        self._media: dict[str, tuple[str, str, bytes]] = {}
        self._stopping = threading.Event()
        self._httpd: _SandboxHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._callbacks: StatusCallbacks | None = None

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _SandboxHttpServer(self._address, _SandboxHandler, self)
        self._callbacks = StatusCallbacks(
            self._poster(self._config),
            delay_seconds=self._config.callback_delay_seconds,
            undelivered_rate=self._config.undelivered_rate,
            intermediate=self._config.intermediate_statuses,
            lanes=self._config.callback_lanes,
            seed=self._config.seed,
        ).start()
        # A short poll interval keeps stop() quick; it is the loop's idle wake-up only.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-provider",
            daemon=True,
        )
        self._thread.start()
        logger.info("sandbox provider started", extra={"url": self.url})
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping through latency or a stall
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._callbacks is not None:
            self._callbacks.stop()
        self._httpd = None
        self._thread = None
        self._callbacks = None
        logger.info("sandbox provider stopped")

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the sandbox provider is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def config(self) -> SandboxConfig:
        return self._config

    def configure(self, **changes: Any) -> None:
        """Change the behaviour of a running sandbox (faults, latency, keys...)."""
        with self._lock:
            self._config = replace(self._config, **changes)
            self._plan = self._plan_for(self._config)

    # -- what it accepted -------------------------------------------------------

    def texts(self, idempotency_key: str | None = None) -> list[SandboxText]:
        """Every text accepted so far, oldest first; only those sent with
        `idempotency_key` when it is given."""
        with self._lock:
            texts = list(self._texts)
        if idempotency_key is None:
            return texts
        return [text for text in texts if text.idempotency_key == idempotency_key]

    # -- request handling (called on the server's threads) ---------------------------

    def answer_send(
        self, account_id: str, headers: Mapping[str, str], raw_body: bytes
    ) -> tuple[int, dict[str, Any]]:
        config = self._config
        self._authorize(config, account_id, headers)
        self._pause(config.latency_seconds, config.latency_jitter_seconds)
        request = _parse_send(raw_body)
        key = headers.get("idempotency-key") or None
        fingerprint = json.dumps(request, sort_keys=True)
        with self._lock:
            config = self._config
            if key is not None and config.honour_idempotency_keys and key in self._replies:
                reply = self._replies[key]
                if reply.fingerprint != fingerprint:
                    raise _RequestRefused(
                        422,
                        SandboxErrorCode.IDEMPOTENCY_KEY_REUSED,
                        "this Idempotency-Key was used with a different request",
                    )
                logger.info("sandbox replayed a send", extra={"send_key": key})
                return reply.status, reply.payload
            if request["channel"] == "whatsapp" and request["content_sid"] is None:
                self._check_window(request["from"], request["to"], datetime.now(UTC))
            fault = self._plan.fault_for(request["to"])
            if fault is not None and fault != SandboxFault.TIMEOUT:
                answer = FAULT_ANSWERS[fault]
                logger.info("sandbox answered a fault", extra={"fault": str(fault)})
                raise _RequestRefused(answer.http_status, answer.code, answer.message)
            text = self._record(account_id, request, key)
            payload = text.as_json()
            if key is not None and config.honour_idempotency_keys:
                self._replies[key] = _Reply(fingerprint, 201, payload)
        logger.info("sandbox accepted a text", extra={"sid": text.sid, "send_key": key})
        if self._callbacks is not None and text.status_callback_url:
            self._callbacks.text_accepted(
                text.status_callback_url, text.sid, text.from_number, text.to_number, text.channel
            )
        if self._on_text_accepted is not None:
            # A failing listener must not turn an accepted text into an error answer.
            try:
                self._on_text_accepted(text)
            except Exception:
                logger.exception("sandbox listener failed", extra={"sid": text.sid})
        if fault == SandboxFault.TIMEOUT:
            logger.info("sandbox stalls its answer", extra={"sid": text.sid, "send_key": key})
            self._stopping.wait(config.stall_seconds)
        return 201, payload

    def answer_list(
        self, account_id: str, headers: Mapping[str, str], query: Mapping[str, list[str]]
    ) -> tuple[int, dict[str, Any]]:
        self._authorize(self._config, account_id, headers)
        from_number = _first(query, "from")
        to_number = _first(query, "to")
        after_text = _first(query, "date_sent_after")
        after: datetime | None = None
        if after_text:
            try:
                after = datetime.fromisoformat(after_text)
            except ValueError as error:
                raise _RequestRefused(
                    400, SandboxErrorCode.INVALID_REQUEST, "date_sent_after is not ISO 8601"
                ) from error
            if after.tzinfo is None:
                after = after.replace(tzinfo=UTC)
        matching = [
            text.as_json()
            for text in reversed(self.texts())
            # an account lists its own texts only, as at every provider (with open
            # accounts, one sandbox serves every tenant's account locally)
            if text.account_id == account_id
            and (from_number is None or text.from_number == from_number)
            and (to_number is None or text.to_number == to_number)
            and (after is None or text.created_at >= after)
        ]
        return 200, {"messages": matching}

    def answer_reply(self, raw_body: bytes) -> tuple[int, dict[str, Any]]:
        """A lead texts one of our numbers: post it, signed, to the number's account."""
        config = self._config
        try:
            request = json.loads(raw_body or b"{}")
        except ValueError as error:
            raise _RequestRefused(
                400, SandboxErrorCode.INVALID_REQUEST, "body is not JSON"
            ) from error
        if not isinstance(request, dict):
            raise _RequestRefused(400, SandboxErrorCode.INVALID_REQUEST, "body is not an object")
        from_number, to_number = request.get("from"), request.get("to")
        body, account_id = request.get("body"), request.get("account_id")
        channel = request.get("channel", "sms")
        if channel not in ("sms", "whatsapp"):
            raise _RequestRefused(
                400, SandboxErrorCode.INVALID_REQUEST, "'channel' is 'sms' or 'whatsapp'"
            )
        sent_at = _past_time(request.get("sent_at"))
        for name, value in (("from", from_number), ("to", to_number)):
            if not isinstance(value, str) or not _E164.match(value):
                raise _RequestRefused(
                    400, SandboxErrorCode.INVALID_NUMBER, f"'{name}' must be E.164"
                )
        has_media = bool(request.get("media") or request.get("media_urls"))
        if not isinstance(body, str) or not (body or has_media):
            raise _RequestRefused(
                400, SandboxErrorCode.INVALID_REQUEST, "'body' (or media) is required"
            )
        if not config.webhook_url:
            raise _RequestRefused(
                409, SandboxErrorCode.INVALID_REQUEST, "no webhook_url configured"
            )
        if not isinstance(account_id, str) or not account_id:
            account_id = self.account_of(str(to_number))
        if account_id is None:
            raise _RequestRefused(
                404,
                SandboxErrorCode.ACCOUNT_NOT_FOUND,
                f"no account has sent from {to_number}; give account_id",
            )
        media_urls = self._take_media(account_id, request.get("media"), request.get("media_urls"))
        sid = f"{'MM' if media_urls else 'SM'}{secrets.token_hex(16)}"
        data: dict[str, Any] = {
            "id": sid, "from": from_number, "to": to_number, "body": body, "media_urls": media_urls,
        }  # fmt: skip
        if channel == "whatsapp":
            # addressed as Twilio addresses WhatsApp, and opening the window for replies
            data.update(
                {"from": f"whatsapp:{from_number}", "to": f"whatsapp:{to_number}"},
                channel="whatsapp",
            )
            with self._lock:
                key = (str(to_number), str(from_number))
                last = self._whatsapp_inbound.get(key)
                self._whatsapp_inbound[key] = max(last, sent_at) if last else sent_at
        delivery = self._poster(config).post(account_id, "message.received", data, sent_at)
        return 202, {
            "sid": sid,
            "account_id": account_id,
            "webhook_id": delivery.webhook_id,
            "webhook_status": delivery.status,
        }

    def answer_call(self, raw_body: bytes) -> tuple[int, dict[str, Any]]:
        """The voice side reports a call's end: post it, signed, to the voice webhook."""
        config = self._config
        try:
            return 202, post_call(config.webhook_url or "", config.signing_secret, raw_body)
        except CallRefused as refusal:
            raise _RequestRefused(
                refusal.status, SandboxErrorCode.INVALID_REQUEST, refusal.message
            ) from refusal

    def whatsapp_window(self, ours: str, theirs: str) -> datetime | None:
        """When the WhatsApp window of this pair closes (None: never opened)."""
        with self._lock:
            last = self._whatsapp_inbound.get((ours, theirs))
        return last + WHATSAPP_WINDOW if last else None

    def _check_window(self, ours: str, theirs: str, now: datetime) -> None:
        last = self._whatsapp_inbound.get((ours, theirs))  # under the lock
        if last is None or now >= last + WHATSAPP_WINDOW:
            raise _RequestRefused(
                400,
                SandboxErrorCode.OUTSIDE_WINDOW,
                "Failed to send freeform message because you are outside the allowed window."
                " If you are using WhatsApp, please use a Message Template.",
            )

    def add_media(self, account_id: str, content_type: str, data: bytes) -> str:
        """Keep a file as an MMS's media; its URL (Basic auth with the account's id and
        the API token reads it)."""
        media_id = f"ME{secrets.token_hex(16)}"
        with self._lock:
            self._media[media_id] = (account_id, content_type, data)
        return f"{self.url}/sandbox/media/{account_id}/{media_id}"

    def answer_media(
        self, account_id: str, media_id: str, headers: Mapping[str, str]
    ) -> tuple[int, str, bytes]:
        token = base64.b64encode(f"{account_id}:{self._config.api_token}".encode()).decode()
        if headers.get("authorization") != f"Basic {token}":
            return 401, "application/json", b'{"error": {"code": "unauthorized"}}'
        with self._lock:
            found = self._media.get(media_id)
        if found is None or found[0] != account_id:
            return 404, "application/json", b'{"error": {"code": "not_found"}}'
        return 200, found[1], found[2]

    def _take_media(self, account_id: str, media: object, urls: object) -> list[str]:
        kept: list[str] = []
        for item in media if isinstance(media, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("content_type"), str):
                raise _RequestRefused(
                    400, SandboxErrorCode.INVALID_REQUEST, "each media needs a content_type"
                )
            try:
                data = base64.b64decode(str(item.get("base64", "")), validate=True)
            except binascii.Error as error:
                raise _RequestRefused(
                    400, SandboxErrorCode.INVALID_REQUEST, "media base64 does not decode"
                ) from error
            kept.append(self.add_media(account_id, item["content_type"], data))
        if isinstance(urls, list):
            kept.extend(str(u) for u in urls if _is_http_url(u))
        return kept

    def account_of(self, number: str) -> str | None:
        """The account that last sent a text from `number`."""
        return next(
            (text.account_id for text in reversed(self.texts()) if text.from_number == number),
            None,
        )

    def deliveries(self) -> list[Delivery]:
        """The status callbacks posted so far, oldest first."""
        return list(self._callbacks.deliveries) if self._callbacks is not None else []

    @staticmethod
    def _poster(config: SandboxConfig) -> WebhookPoster:
        return WebhookPoster(config.webhook_url or "", config.signing_secret)

    def _authorize(
        self, config: SandboxConfig, account_id: str, headers: Mapping[str, str]
    ) -> None:
        if headers.get("authorization") != f"Bearer {config.api_token}":
            raise _RequestRefused(401, SandboxErrorCode.UNAUTHORIZED, "invalid API token")
        if account_id != config.account_id and not config.open_accounts:
            raise _RequestRefused(404, SandboxErrorCode.ACCOUNT_NOT_FOUND, "unknown account")

    def _record(self, account_id: str, request: Mapping[str, Any], key: str | None) -> SandboxText:
        segments = count_segments(request["body"])
        text = SandboxText(
            sid=f"SM{secrets.token_hex(16)}",
            account_id=account_id,
            from_number=request["from"],
            to_number=request["to"],
            body=request["body"],
            media_urls=tuple(request["media_urls"]),
            status_callback_url=request["status_callback"],
            idempotency_key=key,
            segments=max(segments.segments, 1),
            encoding=segments.encoding,
            created_at=datetime.now(UTC),
            channel=request["channel"],
            content_sid=request["content_sid"],
            content_variables=request["content_variables"],
        )
        self._texts.append(text)
        return text

    def _pause(self, seconds: float, jitter: float) -> None:
        if jitter > 0:
            with self._lock:
                seconds += self._plan.jitter(jitter)
        if seconds > 0:
            self._stopping.wait(seconds)

    @staticmethod
    def _plan_for(config: SandboxConfig) -> FaultPlan:
        return FaultPlan(config.faults_by_number, config.fault_rates, config.seed)


def _parse_send(raw_body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(raw_body or b"{}")
    except ValueError as error:
        raise _RequestRefused(400, SandboxErrorCode.INVALID_REQUEST, "body is not JSON") from error
    if not isinstance(request, dict):
        raise _RequestRefused(400, SandboxErrorCode.INVALID_REQUEST, "body is not a JSON object")
    from_number, to_number = request.get("from"), request.get("to")
    body = request.get("body", "")
    media_urls = request.get("media_urls") or []
    callback = request.get("status_callback")
    channel = request.get("channel", "sms")
    content_sid = request.get("content_sid")
    content_variables = request.get("content_variables") or {}
    if channel not in ("sms", "whatsapp"):
        raise _RequestRefused(400, SandboxErrorCode.INVALID_REQUEST, "'channel': sms or whatsapp")
    if content_sid is not None and (channel != "whatsapp" or not isinstance(content_sid, str)):
        raise _RequestRefused(
            400, SandboxErrorCode.INVALID_REQUEST, "'content_sid' is a WhatsApp template's id"
        )
    if not isinstance(content_variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in content_variables.items()
    ):
        raise _RequestRefused(
            400, SandboxErrorCode.INVALID_REQUEST, "'content_variables' maps names to text"
        )
    if not isinstance(from_number, str) or not _E164.match(from_number):
        raise _RequestRefused(400, SandboxErrorCode.INVALID_REQUEST, "'from' must be E.164")
    if not isinstance(to_number, str) or not _E164.match(to_number):
        raise _RequestRefused(400, SandboxErrorCode.INVALID_NUMBER, "'to' must be E.164")
    if not isinstance(body, str):
        raise _RequestRefused(400, SandboxErrorCode.INVALID_REQUEST, "'body' must be a string")
    if not isinstance(media_urls, list) or not all(isinstance(u, str) for u in media_urls):
        raise _RequestRefused(400, SandboxErrorCode.INVALID_REQUEST, "'media_urls' must be a list")
    if len(media_urls) > MAX_MEDIA or not all(_is_http_url(u) for u in media_urls):
        raise _RequestRefused(
            400,
            SandboxErrorCode.INVALID_REQUEST,
            f"'media_urls': at most {MAX_MEDIA} http(s) URLs",
        )
    if not body and not media_urls:
        raise _RequestRefused(400, SandboxErrorCode.INVALID_REQUEST, "a body or media is required")
    limit = WHATSAPP_MAX_BODY_CHARS if channel == "whatsapp" else MAX_BODY_CHARS
    if len(body) > limit:
        raise _RequestRefused(
            400, SandboxErrorCode.INVALID_REQUEST, f"body over {limit} characters"
        )
    if callback is not None and not _is_http_url(callback):
        # as Twilio's 21609: a callback must be a fully qualified http(s) URL
        raise _RequestRefused(
            400, SandboxErrorCode.INVALID_REQUEST, "'status_callback' must be an http(s) URL"
        )
    return {
        "from": from_number,
        "to": to_number,
        "body": body,
        "media_urls": media_urls,
        "status_callback": callback,
        "channel": channel,
        "content_sid": content_sid,
        "content_variables": content_variables,
    }


def _past_time(value: object) -> datetime:
    """When a reply was sent: `value` (ISO 8601, not in the future), else now."""
    now = datetime.now(UTC)
    if value is None:
        return now
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError as error:
        raise _RequestRefused(
            400, SandboxErrorCode.INVALID_REQUEST, "'sent_at' is not ISO 8601"
        ) from error
    if when.tzinfo is None or when > now:
        raise _RequestRefused(
            400, SandboxErrorCode.INVALID_REQUEST, "'sent_at' is a past time with its offset"
        )
    return when.astimezone(UTC)


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


class _SandboxHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        sandbox: SandboxServer,
    ) -> None:
        super().__init__(address, handler)
        self.sandbox = sandbox


class _SandboxHandler(WholeResponseHandler):
    server: _SandboxHttpServer
    server_version = "TetherSandbox/1"

    def do_POST(self) -> None:
        self._route("POST")

    def do_GET(self) -> None:
        self._route("GET")

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        match = _MESSAGES_PATH.match(parts.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            media = _MEDIA_PATH.match(parts.path)
            if method == "GET" and media is not None:
                status, content_type, data = self.server.sandbox.answer_media(
                    media["account_id"], media["media_id"], headers
                )
                self.respond(status, [("Content-Type", content_type)], data)
                return
            if method == "POST" and parts.path == _REPLIES_PATH:
                length = int(self.headers.get("Content-Length") or 0)
                status, payload = self.server.sandbox.answer_reply(self.rfile.read(length))
                self._answer(status, payload)
                return
            if method == "POST" and parts.path == _CALLS_PATH:
                length = int(self.headers.get("Content-Length") or 0)
                status, payload = self.server.sandbox.answer_call(self.rfile.read(length))
                self._answer(status, payload)
                return
            if match is None:
                raise _RequestRefused(404, SandboxErrorCode.INVALID_REQUEST, "no such resource")
            account_id = match["account_id"]
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                status, payload = self.server.sandbox.answer_send(
                    account_id, headers, self.rfile.read(length)
                )
            else:
                query = parse_qs(parts.query)
                status, payload = self.server.sandbox.answer_list(account_id, headers, query)
        except _RequestRefused as refusal:
            status = refusal.status
            payload = {"error": {"code": str(refusal.code), "message": refusal.message}}
        self._answer(status, payload)

    def _answer(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.respond(status, [("Content-Type", "application/json")], data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test); the text, if any, stays recorded.
            logger.debug("sandbox client hung up before the answer")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox request", extra={"line": format % args})
