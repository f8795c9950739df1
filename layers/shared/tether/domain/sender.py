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
    # phonenumbers loads on the first number whose zones are asked for (a choice of
    # sender, quiet hours), not with every module that names a SenderCandidate
    import phonenumbers
    from phonenumbers import timezone as phone_timezone

    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return frozenset()
    zones = phone_timezone.time_zones_for_number(parsed)
    return frozenset(zone for zone in zones if zone != phone_timezone.UNKNOWN_TIMEZONE)


def choose_sender(lead_phone: str, candidates: Sequence[SenderCandidate]) -> SenderCandidate:
    """The best candidate for `lead_phone`; raises ValueError when there is none."""
    [chosen] = choose_senders([lead_phone], candidates)
    return chosen


def choose_senders(
    lead_phones: Sequence[str], candidates: Sequence[SenderCandidate]
) -> list[SenderCandidate]:
    """The best candidate for each of several leads new to one campaign, in order, each
    choice counting toward the load of the next (as if they were sent one after
    another); raises ValueError when there is none."""
    pool = list(candidates)
    if lead_phones and not pool:
        raise ValueError("no candidate numbers")
    areas = [area_code(c.phone_number) for c in pool]
    zones = [time_zones(c.phone_number) for c in pool]
    # A lead's time zones rank the candidates only when theirs differ (all alike, every
    # candidate shares the lead's zone or none does); looking them up is most of the
    # time a large launch spends choosing, so it is skipped when it cannot matter.
    zones_rank = len(set(zones)) > 1
    chosen: list[SenderCandidate] = []
    for phone in lead_phones:
        lead_area = area_code(phone)
        lead_zones = time_zones(phone) if zones_rank else frozenset()
        # the first of the best, as min() over the candidates would choose
        _, best = min(
            (
                (
                    lead_area is None or areas[index] != lead_area,
                    not lead_zones & zones[index],
                    candidate.bound_leads,
                    candidate.phone_number,
                ),
                index,
            )
            for index, candidate in enumerate(pool)
        )
        sender = pool[best]
        pool[best] = replace(sender, bound_leads=sender.bound_leads + 1)
        chosen.append(sender)
    return chosen
