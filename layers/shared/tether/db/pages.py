"""Keyset pages: every list reads the rows after the cursor's position, plus one more
to learn whether another page follows."""

from __future__ import annotations

from typing import Any

from tether.domain.pagination import Position


def after_position(position: Position | None, limit: int, **extra: Any) -> dict[str, Any]:
    """Parameters `after`, `after_id` and `limit` (one more than asked) of a keyset
    query ordered newest first; `after` is NULL on the first page."""
    at, row_id = position if position is not None else (None, None)
    return {"after": at, "after_id": row_id, "limit": limit + 1, **extra}


# The condition and order of a list newest first by (created_at, id).
NEWEST_FIRST = (
    "(%(after)s::timestamptz IS NULL OR ({at}, {id}) < (%(after)s, %(after_id)s::uuid))",
    "ORDER BY {at} DESC, {id} DESC LIMIT %(limit)s",
)


def newest_first(at: str = "created_at", row_id: str = "id") -> tuple[str, str]:
    condition, order = NEWEST_FIRST
    return condition.format(at=at, id=row_id), order.format(at=at, id=row_id)
