"""What every provider's webhook support provides, and the helpers they share."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError

from tether.domain.events import EventType, Provider, ProviderEvent
from tether.domain.whatsapp import split_address
from tether.webhooks.errors import MalformedPayload
from tether.webhooks.request import WebhookRequest

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ParsedDelivery:
    """One provider event, read from a verified request."""

    # the provider's identity of this event: the same on every retry of it, different
    # for every other event (a message id alone is not: one message has many statuses)
    identity: str
    # what it means; None for an event type Tether does not handle (kept, acknowledged)
    event: ProviderEvent | None
    # the provider's own name for the event type, for logs and the audit trail
    provider_event_type: str
    # a hash of the event's content without per-attempt delivery data: a retry must
    # match it, a different event reusing the identity must not
    fingerprint: str

    @property
    def event_type(self) -> EventType:
        return self.event.kind if self.event is not None else "unknown"

    @property
    def external_id(self) -> str | None:
        return self.event.external_id if self.event is not None else None


class WebhookProvider(Protocol):
    """A provider's webhooks: which bodies it sends, how it signs, what they mean."""

    name: Provider
    media_types: frozenset[str]

    def verify(self, request: WebhookRequest, secrets: list[str], now: datetime) -> None:
        """Raise InvalidSignature unless one of `secrets` signed `request`."""
        ...

    def parse(self, request: WebhookRequest, received_at: datetime) -> ParsedDelivery:
        """The event a verified request carries. Raises MalformedPayload."""
        ...


def channel_addresses(
    *addresses: str | None, whatsapp: bool = False
) -> tuple[Literal["sms", "whatsapp"], list[str | None]]:
    """The channel of an event's addresses and the addresses as Tether keeps them: any
    `whatsapp:` address (or `whatsapp`, the provider's own word) makes it a WhatsApp
    event, and the prefix is dropped (issue 18's contract)."""
    stripped: list[str | None] = []
    for address in addresses:
        if address is None:
            stripped.append(None)
            continue
        is_whatsapp, bare = split_address(address)
        whatsapp = whatsapp or is_whatsapp
        stripped.append(bare)
    return ("whatsapp" if whatsapp else "sms"), stripped


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_fingerprint(value: Any) -> str:
    return sha256_hex(json.dumps(value, sort_keys=True, separators=(",", ":")).encode())


# An integer literal this long is no count, code or time any provider sends; it is read
# as infinity (which every field below refuses or ignores) rather than making Python's
# integer parser fail on the whole body.
MAX_INTEGER_DIGITS = 100


def _json_int(literal: str) -> int | float:
    return int(literal) if len(literal) <= MAX_INTEGER_DIGITS else float(literal)


def json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body, parse_int=_json_int)
    except (ValueError, RecursionError) as error:
        raise MalformedPayload(f"the body is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise MalformedPayload("the body is JSON but not an object")
    return value


def read_model(model: type[ModelT], data: Any, what: str) -> ModelT:
    """`data` as `model`, or MalformedPayload naming each field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise MalformedPayload(f"{what}: {describe(error)}") from error


def make_event(model: type[ModelT], what: str, **fields: Any) -> ModelT:
    """A canonical event, or MalformedPayload when the provider's values do not fit it."""
    try:
        return model(**fields)
    except ValidationError as error:
        raise MalformedPayload(f"{what}: {describe(error)}") from error


def describe(error: ValidationError, limit: int = 5) -> str:
    problems = [
        f"{'.'.join(str(part) for part in e['loc']) or 'body'}: {e['msg']}"
        for e in error.errors()[:limit]
    ]
    more = error.error_count() - limit
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


# A provider's event time is informational: ordering uses status ranks and the time of
# receipt. So a time that cannot be read (NaN, Infinity, 1e300, text, a naive or absurd
# date) or lies before 2000 or more than a day after arrival is replaced by the time of
# receipt, never refused: the event (a STOP, say) matters more than its clock.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME_AHEAD = timedelta(days=1)
_AWARE_DATETIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def event_time(value: object, received_at: datetime) -> datetime:
    """The provider's time of the event (ISO 8601, or Unix seconds), or `received_at`."""
    if value is None or isinstance(value, bool):
        return received_at
    if isinstance(value, float) and not math.isfinite(value):
        return received_at
    try:
        when = _AWARE_DATETIME.validate_python(value)
        if not EARLIEST_EVENT_TIME <= when <= received_at + LATEST_EVENT_TIME_AHEAD:
            return received_at
        return when.astimezone(UTC)
    except (ValidationError, ValueError, OverflowError, TypeError):
        return received_at


def code_text(value: object) -> str | None:
    """A provider's error code as text, whatever JSON type it came in; a non-finite or
    non-scalar one is no code (the error's reason is kept beside it)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)[:100]
