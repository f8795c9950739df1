"""Choosing the sticky sender: which of a campaign's numbers texts a lead.

Preference, in order: a number with the lead's area code (the text looks local), then
one in the lead's time zone (the nearest we get to "same state" from the number
alone), then the number with the fewest leads bound to it, then the number itself so
the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from uuid import UUID

import phonenumbers
from phonenumbers import timezone as phone_timezone

NANP_PREFIX = "+1"


@dataclass(frozen=True, slots=True)
class SenderCandidate:
    assignment_id: UUID
    phone_number_id: UUID
    phone_number: str
    bound_leads: int


def area_code(e164: str) -> str | None:
    """The three-digit area code of a North American number, else None."""
    if e164.startswith(NANP_PREFIX) and len(e164) == 12:
        return e164[2:5]
    return None


@lru_cache(maxsize=4096)
def time_zones(e164: str) -> frozenset[str]:
    """The time zones the number's range is assigned to (empty when unknown)."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return frozenset()
    zones = phone_timezone.time_zones_for_number(parsed)
    return frozenset(zone for zone in zones if zone != phone_timezone.UNKNOWN_TIMEZONE)


def choose_sender(lead_phone: str, candidates: Sequence[SenderCandidate]) -> SenderCandidate:
    """The best candidate for `lead_phone`; raises ValueError when there is none."""
    if not candidates:
        raise ValueError("no candidate numbers")
    lead_area = area_code(lead_phone)
    lead_zones = time_zones(lead_phone)

    def preference(candidate: SenderCandidate) -> tuple[bool, bool, int, str]:
        same_area = lead_area is not None and area_code(candidate.phone_number) == lead_area
        same_zone = bool(lead_zones & time_zones(candidate.phone_number))
        return (not same_area, not same_zone, candidate.bound_leads, candidate.phone_number)

    return min(candidates, key=preference)


def choose_senders(
    lead_phones: Sequence[str], candidates: Sequence[SenderCandidate]
) -> list[SenderCandidate]:
    """`choose_sender` for several leads new to one campaign, in order, each choice
    counting toward the load of the next (as if they were sent one after another)."""
    pool = list(candidates)
    chosen: list[SenderCandidate] = []
    for phone in lead_phones:
        sender = choose_sender(phone, pool)
        index = pool.index(sender)
        pool[index] = replace(sender, bound_leads=sender.bound_leads + 1)
        chosen.append(sender)
    return chosen
