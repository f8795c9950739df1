"""What the sandbox provider says back, as a real provider does: signed webhooks
(Standard Webhooks).

- Status callbacks: queued → sent → delivered (or undelivered, at a configured rate),
  posted some time after the send was answered, in order, from one worker thread, to
  the URL the send named (``status_callback``) and only when it named one: as with
  Twilio's ``StatusCallback`` or Telnyx's ``webhook_url``, a send that asks for nothing
  hears nothing.
- Replies: a lead's text to one of the account's numbers (``message.received``), to
  the account's webhook URL, ``{webhook_url}/{account_id}`` (a number's inbound
  webhook is account configuration at every provider).
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import secrets
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tether.observability import logger
from tether.providers.sandbox import SandboxErrorCode
from tether.webhooks.signatures import standard_webhooks_signature

POST_TIMEOUT_SECONDS = 30.0  # the local gateway serves one invocation at a time
RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Delivery:
    """One webhook post and how it went (status None: no answer at all)."""

    webhook_id: str
    url: str
    event_type: str
    status: int | None


def event_payload(event_type: str, data: Mapping[str, Any], now: datetime) -> bytes:
    return json.dumps(
        {"type": event_type, "timestamp": now.astimezone(UTC).isoformat(), "data": dict(data)}
    ).encode()


def signed_headers(secret: str, webhook_id: str, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    return {
        "Content-Type": "application/json",
        "User-Agent": "tether-sandbox/1",
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": standard_webhooks_signature(secret, webhook_id, timestamp, body),
    }


class WebhookPoster:
    """Signs and posts one event to an account's webhook URL."""

    def __init__(
        self,
        webhook_url: str,
        signing_secret: str,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
    ) -> None:
        self.webhook_url = webhook_url.rstrip("/")
        self.signing_secret = signing_secret
        self.retry_delays = retry_delays
        self._closed = threading.Event()

    def close(self) -> None:
        """Give up the retries in progress (the sandbox is stopping)."""
        self._closed.set()

    def post(
        self,
        account_id: str,
        event_type: str,
        data: Mapping[str, Any],
        occurred_at: datetime | None = None,
    ) -> Delivery:
        """`post_to` the account's webhook URL."""
        return self.post_to(f"{self.webhook_url}/{account_id}", event_type, data, occurred_at)

    def post_to(
        self,
        url: str,
        event_type: str,
        data: Mapping[str, Any],
        occurred_at: datetime | None = None,
    ) -> Delivery:
        """Post until answered below 500 (other than 429), retrying after each delay, as
        providers do. Every attempt carries the same webhook-id (the receiver's dedupe
        key) and is signed at its own time."""
        import urllib3

        webhook_id = f"msg_{secrets.token_hex(12)}"
        # the event's own time (a message the person sent earlier), else now
        body = event_payload(event_type, data, occurred_at or datetime.now(UTC))
        status: int | None = None
        attempt = 0
        for delay in (0.0, *self.retry_delays):
            if self._closed.wait(delay):
                break
            attempt += 1
            try:
                response = urllib3.request(
                    "POST",
                    url,
                    body=body,
                    headers=signed_headers(
                        self.signing_secret, webhook_id, body, datetime.now(UTC)
                    ),
                    timeout=POST_TIMEOUT_SECONDS,
                    retries=False,
                )
                status = response.status
            except urllib3.exceptions.HTTPError as error:
                status = None
                logger.warning(
                    "sandbox webhook not answered",
                    extra={"url": url, "error": str(error), "attempt": attempt},
                )
            if status is not None and status < 500 and status != 429:
                break
        logger.info(
            "sandbox posted a webhook",
            extra={
                "event_type": event_type,
                "status": status,
                "attempts": attempt,
                "external_id": data.get("id"),
            },
        )
        return Delivery(webhook_id, url, event_type, status)


@dataclass(frozen=True, order=True)
class _Due:
    at: float
    sequence: int
    url: str
    data: tuple[tuple[str, Any], ...]


class StatusCallbacks:
    """Posts the statuses of each accepted text that asked for them, later, in order.
    `lanes` threads post at once, as a provider's webhook senders do; a text's statuses
    all go through one lane (by its id), so they still arrive in order, and one slow or
    retried post holds back its own lane only."""

    def __init__(
        self,
        poster: WebhookPoster,
        *,
        delay_seconds: float = 0.5,
        undelivered_rate: float = 0.0,
        seed: int = 0,
        intermediate: tuple[str, ...] = ("queued", "sent"),
        lanes: int = 1,
    ) -> None:
        """`intermediate`: the statuses posted before the last one (a provider may skip
        some: the soak asks for fewer to spend its time on more texts)."""
        if lanes < 1:
            raise ValueError("status callbacks need at least one lane")
        self._poster = poster
        self._intermediate = intermediate
        self._delay = delay_seconds
        self._undelivered_rate = undelivered_rate
        self._random = random.Random(seed)  # noqa: S311 - a simulation, not a secret
        self._due: list[list[_Due]] = [[] for _ in range(lanes)]  # a heap per lane
        self._sequence = itertools.count()
        self._wake = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.deliveries: list[Delivery] = []

    def start(self) -> StatusCallbacks:
        self._threads = [
            threading.Thread(
                target=self._run, args=(due,), name=f"sandbox-callbacks-{lane}", daemon=True
            )
            for lane, due in enumerate(self._due)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        self._poster.close()
        ends = time.monotonic() + POST_TIMEOUT_SECONDS + 1
        for thread in self._threads:
            thread.join(timeout=max(0.0, ends - time.monotonic()))

    def text_accepted(
        self,
        callback_url: str,
        sid: str,
        from_number: str,
        to_number: str,
        channel: str = "sms",
    ) -> None:
        """Schedule the text's statuses, each posted to `callback_url`; a WhatsApp
        message is read after it is delivered (WhatsApp's read receipts)."""
        with self._wake:
            delivered = self._random.random() >= self._undelivered_rate
        final: dict[str, Any] = {"status": "delivered"}
        if not delivered:
            final = {
                "status": "undelivered",
                "error_code": str(SandboxErrorCode.FILTERED),
                "error_reason": "message filtered by the carrier",
            }
        start = time.monotonic()
        base = {"id": sid, "from": from_number, "to": to_number}
        steps: list[dict[str, Any]] = [{"status": status} for status in self._intermediate]
        steps.append(final)
        if channel == "whatsapp":
            base["channel"] = "whatsapp"
            if delivered:
                steps.append({"status": "read"})
        lane = self._due[zlib.crc32(sid.encode()) % len(self._due)]
        for step, extra in enumerate(steps, 1):
            data = tuple({**base, **extra}.items())
            self._schedule(
                lane, _Due(start + step * self._delay, next(self._sequence), callback_url, data)
            )

    def _schedule(self, lane: list[_Due], due: _Due) -> None:
        with self._wake:
            heapq.heappush(lane, due)
            self._wake.notify_all()

    def _run(self, lane: list[_Due]) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not lane or lane[0].at > time.monotonic()):
                    timeout = lane[0].at - time.monotonic() if lane else None
                    self._wake.wait(timeout)
                if self._stopping:
                    return
                due = heapq.heappop(lane)
            delivery = self._poster.post_to(due.url, "message.status", dict(due.data))
            self.deliveries.append(delivery)
