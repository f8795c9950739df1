"""Delivery statuses and their monotonic order.

Providers report statuses late, twice and out of order. A status moves forward only:
``queued/accepted < sending < sent < delivered/undelivered/failed/canceled < read``.
The terminal outcomes never flip into one another; the only move out of one is a
delivered (or received) message being read. The database keeps the same ranks in
``message_statuses`` and refuses regressions in a trigger; a test proves they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MessageStatus(StrEnum):
    PENDING = "pending"  # stored, not yet handed to a provider
    QUEUED = "queued"
    ACCEPTED = "accepted"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"
    RECEIVED = "received"  # an inbound message
    READ = "read"


@dataclass(frozen=True, slots=True)
class StatusRank:
    rank: int
    terminal: bool


_M = MessageStatus

STATUS_RANKS: dict[MessageStatus, StatusRank] = {
    _M.PENDING: StatusRank(0, terminal=False),
    _M.QUEUED: StatusRank(1, terminal=False),
    _M.ACCEPTED: StatusRank(1, terminal=False),
    _M.SENDING: StatusRank(2, terminal=False),
    _M.SENT: StatusRank(3, terminal=False),
    _M.DELIVERED: StatusRank(4, terminal=True),
    _M.UNDELIVERED: StatusRank(4, terminal=True),
    _M.FAILED: StatusRank(4, terminal=True),
    _M.CANCELED: StatusRank(4, terminal=True),
    _M.RECEIVED: StatusRank(4, terminal=True),
    _M.READ: StatusRank(5, terminal=True),
}

READABLE = frozenset({_M.DELIVERED, _M.RECEIVED})


def can_advance(current: MessageStatus, incoming: MessageStatus) -> bool:
    """True when a message in `current` may take `incoming` as its new status."""
    if incoming == current:
        return False
    if STATUS_RANKS[current].terminal:
        return incoming == _M.READ and current in READABLE
    return STATUS_RANKS[incoming].rank > STATUS_RANKS[current].rank


def next_status(current: MessageStatus, incoming: MessageStatus) -> MessageStatus:
    """The status a message holds after `incoming` is reported: `incoming` if it moves
    the message forward, else `current` (a late or repeated report changes nothing)."""
    return incoming if can_advance(current, incoming) else current
