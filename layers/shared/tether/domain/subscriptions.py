"""Webhook subscriptions (issue 16): which URLs may receive a tenant's events, how a
delivery is signed (Standard Webhooks), and when a failed one is tried again.

A subscription takes https URLs only; plain http to this machine (localhost, 127.0.0.1,
[::1]) only on the local stage. A delivery that fails is retried with exponential
backoff and jitter for 24 hours from its first attempt (or its replay); then it has
failed, and its subscription is failing until a later delivery succeeds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from tether.domain.errors import InvalidInput
from tether.domain.outbox import EventType

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
MAX_URL_LENGTH = 2048
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=2)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    FAILING = "failing"  # a delivery gave up; deliveries go on, and a success ends it
    DISABLED = "disabled"  # nothing is delivered


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: UUID
    tenant_id: UUID
    url: str
    event_types: tuple[EventType, ...]
    secret_ref: str
    status: SubscriptionStatus
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One (subscription, event) pair and how its delivery went."""

    id: UUID
    tenant_id: UUID
    subscription_id: UUID
    event_id: UUID
    webhook_id: str
    status: DeliveryStatus
    attempts: int
    started_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    failed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """A claimed delivery with what its attempt needs."""

    delivery_id: UUID
    tenant_id: UUID
    subscription_id: UUID
    event_id: UUID
    webhook_id: str
    attempts: int  # before this one
    started_at: datetime
    url: str
    secret_ref: str


class InvalidSubscriptionUrl(InvalidInput):
    """A URL Tether does not deliver to."""


def check_subscription_url(url: str, *, local_stage: bool) -> str:
    """`url` (its scheme in lower case) if Tether may deliver to it;
    InvalidSubscriptionUrl says why not. Whether its host resolves to a public address
    is checked at each delivery (DNS answers change)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidSubscriptionUrl(f"url is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidSubscriptionUrl("url cannot contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError as error:
        raise InvalidSubscriptionUrl(f"url is not a URL: {error}") from error
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidSubscriptionUrl("url must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidSubscriptionUrl("url cannot carry a user name or password")
    if parts.fragment:
        raise InvalidSubscriptionUrl("url cannot have a #fragment")
    if parts.scheme == "http" and not (local_stage and host in LOCAL_HOSTS):
        raise InvalidSubscriptionUrl(
            "url must be https (http://localhost and http://127.0.0.1 only on the local stack)"
        )
    if not local_stage and not public_host(host):
        raise InvalidSubscriptionUrl("url must name a public host, not a private address")
    return parts.scheme + url[len(parts.scheme) :]


def public_host(host: str) -> bool:
    """False for a name or address that is this machine, a private network, link-local
    (cloud metadata at 169.254.169.254), multicast or reserved; True for any other
    name (its addresses are checked when it is resolved)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith((".localhost", ".internal", ".local")):
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return "." in name  # a bare name resolves through a search domain: internal
    return public_address(address)


def public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_event_types(names: list[str]) -> tuple[EventType, ...]:
    known = {t.value for t in EventType}
    unknown = sorted(set(names) - known)
    if unknown:
        raise InvalidInput(f"event_types: unknown {', '.join(unknown)}")
    if not names:
        raise InvalidInput("event_types: name at least one event type")
    return tuple(EventType(n) for n in dict.fromkeys(names))


def signing_key(secret: str) -> bytes:
    """The key a `whsec_...` secret stands for."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput("a signing secret is whsec_ followed by base64") from error


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header of a delivery: Standard Webhooks' v1, the base64
    HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's key."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def retry_at(started_at: datetime, attempts: int, now: datetime, jitter: float) -> datetime | None:
    """When to try a delivery again after its `attempts`-th failure at `now`; None once
    its 24 hours are over. The wait doubles from 30 s up to 2 h, drawn in its upper half
    (`jitter` in [0, 1)) so receivers coming back are not hit all at once; the last try
    is at the end of the window."""
    deadline = started_at + RETRY_WINDOW
    if now >= deadline:
        return None
    wait = min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), LONGEST_WAIT)
    later: datetime = now + wait * (0.5 + 0.5 * jitter)
    return min(later, deadline)
