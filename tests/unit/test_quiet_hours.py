from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from tether.domain.errors import InvalidInput
from tether.domain.quiet_hours import (
    QuietHours,
    SendWindow,
    next_send_time,
    recipient_state,
    recipient_zone,
)

FEDERAL = SendWindow()


@pytest.mark.parametrize(
    ("phone", "zone"),
    [
        ("+12125550123", "America/New_York"),
        ("+13125550123", "America/Chicago"),
        ("+13035550123", "America/Denver"),
        ("+14155550123", "America/Los_Angeles"),
        ("+442079460018", "Europe/London"),
    ],
)
def test_zone_from_the_number(phone: str, zone: str) -> None:
    assert recipient_zone(phone, None) == ZoneInfo(zone)


def test_the_leads_own_zone_wins_and_a_bad_one_is_ignored() -> None:
    assert recipient_zone("+12125550123", "America/Phoenix") == ZoneInfo("America/Phoenix")
    assert recipient_zone("+12125550123", "Mars/Olympus") == ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("phone", "state"),
    [
        ("+13055550123", "FL"),
        ("+13125550123", "IL"),
        ("+12065550123", "WA"),
        ("+442079460018", None),
    ],
)
def test_state_from_the_number(phone: str, state: str | None) -> None:
    assert recipient_state(phone) == state


# 2026-11-21 is a Saturday in November: New York is UTC-5, Chicago -6, Denver -7,
# Los Angeles -8, London +0.
@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # 13:00 UTC is 8:00 in New York: open
        (
            datetime(2026, 11, 21, 13, 0, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 11, 21, 13, 0, tzinfo=UTC),
        ),
        # 12:59 UTC is 7:59 in New York: wait a minute
        (
            datetime(2026, 11, 21, 12, 59, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 11, 21, 13, 0, tzinfo=UTC),
        ),
        # 02:30 UTC is 20:30 the day before in Chicago: still open
        (
            datetime(2026, 11, 21, 2, 30, tzinfo=UTC),
            "America/Chicago",
            datetime(2026, 11, 21, 2, 30, tzinfo=UTC),
        ),
        # 04:00 UTC is 21:00 the day before in Denver: closed until 8:00 Denver = 15:00 UTC
        (
            datetime(2026, 11, 21, 4, 0, tzinfo=UTC),
            "America/Denver",
            datetime(2026, 11, 21, 15, 0, tzinfo=UTC),
        ),
        # 06:00 UTC is 22:00 in Los Angeles: next opening 16:00 UTC
        (
            datetime(2026, 11, 21, 6, 0, tzinfo=UTC),
            "America/Los_Angeles",
            datetime(2026, 11, 21, 16, 0, tzinfo=UTC),
        ),
        # 21:30 UTC is 21:30 in London: tomorrow 8:00
        (
            datetime(2026, 11, 21, 21, 30, tzinfo=UTC),
            "Europe/London",
            datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
        ),
    ],
)
def test_next_send_time(now: datetime, zone: str, expected: datetime) -> None:
    assert next_send_time(now, ZoneInfo(zone), FEDERAL) == expected


def test_opening_on_a_daylight_saving_morning() -> None:
    # 2026-03-08: New York moves to UTC-4 at 2:00; 8:00 local that day is 12:00 UTC
    now = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 0:00 local, before the change
    assert next_send_time(now, ZoneInfo("America/New_York"), FEDERAL) == datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC
    )


def test_state_windows_override_the_default() -> None:
    florida = SendWindow(time(8, 0), time(20, 0))
    hours = QuietHours(by_state={"FL": florida})
    assert hours.window_for("FL") == florida
    assert hours.window_for("NY") == FEDERAL
    assert hours.window_for(None) == FEDERAL


def test_a_window_must_open_before_it_closes() -> None:
    with pytest.raises(InvalidInput):
        SendWindow(time(21, 0), time(8, 0))
