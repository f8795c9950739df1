"""Send keys: the idempotency key of an outbound message (seed 002, part 4).

The default key is ``lead_id:template:YYYY-MM-DD``: the same template goes to the same
lead at most once per day, however often a request is retried or repeated. The day is
the UTC calendar day of the request, so the key does not depend on where the caller is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from tether.domain.errors import InvalidSendKey

MAX_SEND_KEY_LENGTH = 200


def default_send_key(lead_id: UUID, template: str, at: datetime) -> str:
    """The key for sending `template` to a lead on the UTC day of `at`."""
    if at.tzinfo is None:
        raise InvalidSendKey("send time must carry a time zone")
    name = template.strip()
    if not name:
        raise InvalidSendKey("template id is empty")
    if ":" in name:
        raise InvalidSendKey(f"template id {template!r} must not contain ':'")
    day: date = at.astimezone(UTC).date()
    return check_send_key(f"{lead_id}:{name}:{day.isoformat()}")


def check_send_key(key: str) -> str:
    """Validate a caller-supplied key: non-blank, printable, bounded."""
    if not key.strip():
        raise InvalidSendKey("send key is empty")
    if len(key) > MAX_SEND_KEY_LENGTH:
        raise InvalidSendKey(f"send key is longer than {MAX_SEND_KEY_LENGTH} characters")
    if not key.isprintable():
        raise InvalidSendKey("send key contains control characters")
    return key
