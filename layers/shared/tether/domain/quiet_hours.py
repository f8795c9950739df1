"""Quiet hours: texts go out only inside the recipient's local sending window.

The window is the tenant's (federal 8:00 to 21:00 by default), or a per-state one
where the tenant set it (some states are stricter). The recipient's time zone is the
lead's when known, else the one its number's range is assigned to. A send outside
the window is not dropped: it waits for the window's next opening.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from tether.domain.errors import InvalidInput
from tether.domain.sender import time_zones

# Two-letter codes for the US geocoder's state-level descriptions ("Florida",
# "Washington State"); city-level ones end in the code already ("Chicago, IL").
_US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Washington D.C.": "DC", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID",
    "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY",
    "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE",
    "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI",
    "Wyoming": "WY", "Puerto Rico": "PR",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SendWindow:
    start: time = time(8, 0)
    end: time = time(21, 0)

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise InvalidInput(
                f"a sending window must open before it closes ({self.start} to {self.end})"
            )


@dataclass(frozen=True, slots=True)
class QuietHours:
    default: SendWindow = field(default_factory=SendWindow)
    by_state: Mapping[str, SendWindow] = field(default_factory=dict)

    def window_for(self, state: str | None) -> SendWindow:
        return self.by_state.get(state, self.default) if state else self.default


def recipient_zone(
    phone: str, lead_timezone: str | None, fallback: str = "America/New_York"
) -> ZoneInfo:
    """The lead's own time zone if valid, else its number's (the first, when a range
    spans several), else `fallback`."""
    for name in (lead_timezone, *sorted(time_zones(phone)), fallback):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@lru_cache(maxsize=4096)
def recipient_state(phone: str) -> str | None:
    """The US state (two letters) of a number's range, from the geocoder; None elsewhere."""
    from phonenumbers import geocoder  # large data, loaded only for tenants with state rules

    try:
        parsed = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(parsed) not in {"US", "PR"}:
        return None
    description = geocoder.description_for_number(parsed, "en")
    if len(description) > 4 and description[-4:-2] == ", " and description[-2:].isupper():
        return description[-2:]
    return _US_STATES.get(description)


def next_send_time(now: datetime, zone: ZoneInfo, window: SendWindow) -> datetime:
    """`now` when it is inside the window in `zone`, else the window's next opening."""
    local = now.astimezone(zone)
    if window.start <= local.time() < window.end:
        return now
    day = local.date() if local.time() < window.start else local.date() + timedelta(days=1)
    opening = datetime.combine(day, window.start, tzinfo=zone)
    return opening.astimezone(now.tzinfo)
