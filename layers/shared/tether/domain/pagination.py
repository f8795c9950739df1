"""Cursor pagination: a page ends with an opaque cursor that names the last row seen,
so the next page starts after it whatever was inserted meanwhile (keyset, no OFFSET)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from tether.domain.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Position = tuple[datetime, UUID]
RankedPosition = tuple[int, datetime, UUID]
RowT = TypeVar("RowT")


def encode_cursor(*values: object) -> str:
    parts = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _parts(cursor: str, count: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (ValueError, binascii.Error) as error:
        raise InvalidInput("cursor is not one this API gave out") from error
    if not isinstance(parts, list) or len(parts) != count:
        raise InvalidInput("cursor is not one this API gave out")
    if not all(isinstance(p, str) for p in parts):
        raise InvalidInput("cursor is not one this API gave out")
    return parts


def decode_position(cursor: str | None) -> Position | None:
    """The (created_at, id) a cursor names, None for the first page."""
    if cursor is None:
        return None
    at, row_id = _parts(cursor, 2)
    try:
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment, UUID(row_id)
    except ValueError as error:
        raise InvalidInput("cursor is not one this API gave out") from error


def decode_ranked_position(cursor: str | None) -> RankedPosition | None:
    """The (rank, time, id) a cursor names (lists ordered by a priority first)."""
    if cursor is None:
        return None
    rank, at, row_id = _parts(cursor, 3)
    try:
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        number = int(rank)
        if abs(number) > 2**31:
            raise ValueError("rank out of range")
        return number, moment, UUID(row_id)
    except ValueError as error:
        raise InvalidInput("cursor is not one this API gave out") from error


@dataclass(frozen=True, slots=True)
class Page(Generic[RowT]):
    items: list[RowT]
    next_cursor: str | None


def page_of(
    rows: list[RowT], limit: int, position: Callable[[RowT], tuple[object, ...]]
) -> Page[RowT]:
    """A page of `limit` rows from a query that read one more: the extra row only says
    that another page follows, which starts after the last row shown."""
    if len(rows) <= limit:
        return Page(rows, None)
    shown = rows[:limit]
    return Page(shown, encode_cursor(*position(shown[-1])))
