from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tether.domain.errors import InvalidInput
from tether.domain.leases import (
    CallOutcome,
    LeaseRules,
    end_of_local_day,
    release_at_after,
)

RULES = LeaseRules(
    hours_without_booking=18,
    hours_after_appointment=24,
    no_answer_retries=1,
    timezone="America/New_York",
)
ASSIGNED = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def test_booked_holds_until_24_hours_after_the_appointment() -> None:
    appointment = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)
    released = release_at_after(
        CallOutcome.BOOKED,
        assigned_at=ASSIGNED,
        now=ASSIGNED,
        rules=RULES,
        appointment_at=appointment,
    )
    assert released == appointment + timedelta(hours=24)


@pytest.mark.parametrize("appointment", [None, datetime(2026, 11, 25, 17, 30)])  # noqa: DTZ001 - naive on purpose
def test_booked_needs_an_aware_appointment_time(appointment: datetime | None) -> None:
    with pytest.raises(InvalidInput, match="appointment"):
        release_at_after(
            CallOutcome.BOOKED,
            assigned_at=ASSIGNED,
            now=ASSIGNED,
            rules=RULES,
            appointment_at=appointment,
        )


def test_no_booking_ends_18_hours_after_assignment_whenever_recorded() -> None:
    later = ASSIGNED + timedelta(hours=5)
    assert release_at_after(
        CallOutcome.NO_BOOKING, assigned_at=ASSIGNED, now=later, rules=RULES
    ) == ASSIGNED + timedelta(hours=18)


def test_first_no_answer_keeps_the_number_until_local_midnight() -> None:
    released = release_at_after(
        CallOutcome.NO_ANSWER, assigned_at=ASSIGNED, now=ASSIGNED, rules=RULES
    )
    assert released == datetime(2026, 11, 22, 5, 0, tzinfo=UTC)  # midnight in New York (EST)


def test_no_answer_after_the_retries_releases_now() -> None:
    now = ASSIGNED + timedelta(hours=2)
    released = release_at_after(
        CallOutcome.NO_ANSWER, assigned_at=ASSIGNED, now=now, rules=RULES, no_answers_before=1
    )
    assert released == now


def test_end_of_local_day_across_a_daylight_saving_change() -> None:
    # 2026-03-08 is the spring-forward day in New York: midnight after it is EDT (UTC-4)
    assert end_of_local_day(
        datetime(2026, 3, 8, 16, 0, tzinfo=UTC), "America/New_York"
    ) == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    # late evening UTC is still the same local day in Los Angeles
    assert end_of_local_day(
        datetime(2026, 11, 22, 6, 0, tzinfo=UTC), "America/Los_Angeles"
    ) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
