"""Cursors: opaque, naming the last row of a page; anything else is refused (422)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from tether.domain.errors import InvalidInput
from tether.domain.pagination import (
    decode_position,
    decode_ranked_position,
    encode_cursor,
    page_of,
)

AT = datetime(2026, 11, 21, 20, 0, 0, 123456, tzinfo=UTC)


def test_a_cursor_names_the_position_it_was_made_from() -> None:
    row_id = uuid.uuid4()
    assert decode_position(encode_cursor(AT, row_id)) == (AT, row_id)
    assert decode_ranked_position(encode_cursor(50, AT, row_id)) == (50, AT, row_id)
    assert decode_position(None) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "!!!!",
        base64.urlsafe_b64encode(b'["2026-11-21T20:00:00", "x"]').decode(),
        base64.urlsafe_b64encode(b'["2026-11-21T20:00:00"]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        # no time zone (a fixed id: pytest-xdist's workers must collect the same ids)
        encode_cursor("2026-11-21T20:00:00", uuid.UUID("3f0c8a52-5d1e-4c7b-9a64-2b8e1f7d0c93")),
    ],
)
def test_a_cursor_not_made_here_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_position(cursor)


def test_a_page_shows_limit_rows_and_a_cursor_only_when_more_follow() -> None:
    rows = [{"at": AT, "id": uuid.uuid4()} for _ in range(3)]
    full = page_of(rows, 2, lambda r: (r["at"], r["id"]))
    assert full.items == rows[:2]
    assert full.next_cursor is not None
    assert decode_position(full.next_cursor) == (AT, rows[1]["id"])
    last = page_of(rows[:2], 2, lambda r: (r["at"], r["id"]))
    assert last.items == rows[:2]
    assert last.next_cursor is None
