"""The pure rules of a launch (tether.domain.launches): a chunk message does work only
for the chunk its launch waits for; a scheduled launch is due at its time and not a
microsecond before, and the queue delay ends there; the dispatcher wakes a launch at
once or two minutes before its time; cancelling is refused once it fired."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.errors import InvalidInput, InvalidState
from tether.domain.launches import (
    DISPATCH_AHEAD,
    MAX_QUEUE_DELAY_SECONDS,
    ChunkOutcome,
    Launch,
    LaunchStatus,
    check_schedule,
    first_wake,
)

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
offsets = st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=2))


def launch(
    status: LaunchStatus = LaunchStatus.RUNNING, at: datetime | None = None, seq: int = 0
) -> Launch:
    return Launch(
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        status,
        at,
        seq,
        None,
        0,
        0,
        {},
        None,
        NOW,
        None,
        None,
        None,
    )


@given(
    seq=st.integers(0, 1000), delivered=st.integers(0, 1000), status=st.sampled_from(LaunchStatus)
)
def test_a_chunk_message_works_only_for_the_chunk_its_launch_waits_for(
    seq: int, delivered: int, status: LaunchStatus
) -> None:
    takes = launch(status, seq=seq).takes_chunk(delivered)
    assert takes == (delivered == seq and status in {LaunchStatus.SCHEDULED, LaunchStatus.RUNNING})


@given(offset=offsets)
def test_a_scheduled_launch_is_due_at_its_time_and_not_before(offset: timedelta) -> None:
    at = NOW + offset
    scheduled = launch(LaunchStatus.SCHEDULED, at)
    assert scheduled.due(NOW) == (at <= NOW)
    delay = scheduled.seconds_until_due(NOW)
    assert 0 <= delay <= MAX_QUEUE_DELAY_SECONDS
    if at > NOW:
        # the queue's delay, in whole seconds, never ends before the launch's time
        assert NOW + timedelta(seconds=delay) >= at or delay == MAX_QUEUE_DELAY_SECONDS
        assert not scheduled.due(at - timedelta(microseconds=1))
    else:
        assert delay == 0
    assert scheduled.due(at)


@given(offset=offsets)
def test_the_dispatcher_wakes_a_launch_at_once_or_two_minutes_before_its_time(
    offset: timedelta,
) -> None:
    at = NOW + offset
    wake = first_wake(at, NOW)
    assert wake >= NOW
    assert wake == max(NOW, at - DISPATCH_AHEAD)
    assert first_wake(None, NOW) == NOW


def test_a_launch_can_be_cancelled_only_until_it_fires() -> None:
    launch(LaunchStatus.SCHEDULED).check_cancellable()
    launch(LaunchStatus.CANCELLED).check_cancellable()  # twice changes nothing
    for fired in (LaunchStatus.RUNNING, LaunchStatus.PAUSED, LaunchStatus.COMPLETE):
        with pytest.raises(InvalidState, match="fired"):
            launch(fired).check_cancellable()


def test_a_chunk_adds_its_counts_reason_by_reason() -> None:
    before = replace(launch(), queued=3, duplicates=4, skipped={"NotFound": 2})
    moved = before.counts_after(ChunkOutcome(5, 2, 1, {"NotFound": 1, "SenderUnavailable": 1}))
    assert moved == (5, 5, {"NotFound": 3, "SenderUnavailable": 1})
    assert before.skipped == {"NotFound": 2}  # the launch itself is unchanged


def test_a_schedule_needs_an_offset_and_lies_within_a_year() -> None:
    assert check_schedule(None, NOW, "launch_at") is None
    assert check_schedule(NOW - timedelta(seconds=1), NOW, "launch_at") is None  # at once
    assert check_schedule(NOW + timedelta(hours=1), NOW, "send_at") == NOW + timedelta(hours=1)
    with pytest.raises(InvalidInput, match="send_at needs a time zone"):
        check_schedule(datetime(2026, 12, 1, 10, 0), NOW, "send_at")  # noqa: DTZ001
    with pytest.raises(InvalidInput, match="more than a year"):
        check_schedule(NOW + timedelta(days=366), NOW, "launch_at")
