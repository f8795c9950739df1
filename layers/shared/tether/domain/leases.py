"""Seed 001's release rules for a number leased to a lead for a call.

- booked appointment: hold the number until the appointment plus
  ``hours_after_appointment`` (24 h), so the lead can call back about it;
- no booking: release ``hours_without_booking`` (18 h) after the assignment;
- no answer: keep it for another try the same (local) day, then release; after
  ``no_answer_retries`` unanswered calls, release now.

A fresh lease ends ``hours_without_booking`` after it began unless an outcome moves
it; the lease statement (tether.db.numbers) applies that from the tenant's config, and
the release statement applies the rest (``cooldown_minutes``) a released number takes
before its next lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tether.domain.errors import InvalidInput


class CallOutcome(StrEnum):
    BOOKED = "booked"
    NO_BOOKING = "no_booking"
    NO_ANSWER = "no_answer"


@dataclass(frozen=True, slots=True)
class LeaseRules:
    hours_without_booking: int = 18
    hours_after_appointment: int = 24
    no_answer_retries: int = 1
    cooldown_minutes: int = 60
    timezone: str = "America/New_York"


def release_at_after(
    outcome: CallOutcome,
    *,
    assigned_at: datetime,
    now: datetime,
    rules: LeaseRules,
    no_answers_before: int = 0,
    appointment_at: datetime | None = None,
) -> datetime:
    """When the lease ends once `outcome` is recorded (`now` or earlier: release now)."""
    if outcome is CallOutcome.BOOKED:
        if appointment_at is None or appointment_at.tzinfo is None:
            raise InvalidInput("a booked call needs the appointment time, with its time zone")
        return appointment_at + timedelta(hours=rules.hours_after_appointment)
    if outcome is CallOutcome.NO_BOOKING:
        return assigned_at + timedelta(hours=rules.hours_without_booking)
    if no_answers_before >= rules.no_answer_retries:
        return now
    return end_of_local_day(now, rules.timezone)


def end_of_local_day(moment: datetime, zone: str) -> datetime:
    """Midnight after `moment` in `zone` (the last instant a same-day retry can use)."""
    local = moment.astimezone(ZoneInfo(zone))
    next_midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    return next_midnight.astimezone(moment.tzinfo)


def cooldown_until(released_at: datetime, rules: LeaseRules) -> datetime:
    return released_at + timedelta(minutes=rules.cooldown_minutes)
