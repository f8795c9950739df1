from __future__ import annotations

import pytest

from tether.domain.message_status import STATUS_RANKS, MessageStatus, can_advance, next_status

M = MessageStatus
TERMINAL = [M.DELIVERED, M.UNDELIVERED, M.FAILED, M.CANCELED]


@pytest.mark.parametrize(
    ("current", "incoming", "kept"),
    [
        (M.PENDING, M.QUEUED, M.QUEUED),
        (M.QUEUED, M.SENT, M.SENT),
        (M.SENT, M.SENDING, M.SENT),  # late report
        (M.DELIVERED, M.SENT, M.DELIVERED),
        (M.DELIVERED, M.FAILED, M.DELIVERED),  # terminal never flips
        (M.FAILED, M.DELIVERED, M.FAILED),
        (M.DELIVERED, M.READ, M.READ),
        (M.RECEIVED, M.READ, M.READ),
        (M.FAILED, M.READ, M.FAILED),
        (M.READ, M.DELIVERED, M.READ),
        (M.QUEUED, M.ACCEPTED, M.QUEUED),  # same rank: first one stays
        (M.SENT, M.SENT, M.SENT),
        (M.PENDING, M.FAILED, M.FAILED),  # a gate may fail a send before it leaves
    ],
)
def test_status_only_moves_forward(
    current: MessageStatus, incoming: MessageStatus, kept: MessageStatus
) -> None:
    assert next_status(current, incoming) == kept


def test_order_is_the_documented_one() -> None:
    rank = {status: STATUS_RANKS[status].rank for status in M}
    assert rank[M.QUEUED] == rank[M.ACCEPTED] < rank[M.SENDING] < rank[M.SENT]
    assert {rank[s] for s in TERMINAL} == {rank[M.SENT] + 1}
    assert rank[M.READ] > rank[M.DELIVERED]


@pytest.mark.parametrize("current", TERMINAL)
@pytest.mark.parametrize("incoming", TERMINAL)
def test_terminal_states_never_flip(current: MessageStatus, incoming: MessageStatus) -> None:
    assert not can_advance(current, incoming)
