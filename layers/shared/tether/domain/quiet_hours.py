"""Quiet hours: texts go out only inside the recipient's local sending window.

The window is a floor, not a setting. Every text passes, at the recipient's local time:

- the federal window, 08:00 to 21:00 (47 CFR 64.1200(c)(1)), unless the tenant
  attested, on the audited record, that a wider window is lawful for it;
- the tenant's own window (it may only narrow the federal one without attestation);
- the built-in rule of the recipient's state (`STATE_RULES`, with weekdays), always:
  no attestation widens a state's statutory hours;
- the tenant's own window for that state, if it set one (narrowing only).

The recipient's zone is the lead's when known; else every zone its number's range is
assigned to (phonenumbers' data), and a text goes only while it is inside the window
in every one of them: an area code that spans two zones waits for the later opening
and stops at the earlier close. The state is the number's range's (the geocoder).
A text outside the window is not dropped: it waits for the next moment it may go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


FEDERAL_WINDOW = SendWindow(time(8, 0), time(21, 0))

# Monday first, as date.weekday() counts; None: no texts that day.
Week = tuple[SendWindow | None, ...]


def _every_day(start: time, end: time) -> Week:
    return (SendWindow(start, end),) * 7


@dataclass(frozen=True, slots=True)
class StateRule:
    """A state's statutory sending hours, local time at the recipient, by weekday."""

    state: str
    week: Week
    source: str

    def window_on(self, day: date) -> SendWindow | None:
        return self.week[day.weekday()]


_NINE_TO_NINE = SendWindow(time(9, 0), time(21, 0))

# The built-in state rules: stricter than the federal window or it in the state's own
# law, always applied. Each names its statute. Holidays (Rhode Island, for one, allows
# no calls on state or federal holidays) are not modelled yet; see the README.
STATE_RULES: Mapping[str, StateRule] = {
    rule.state: rule
    for rule in (
        # Florida Telephone Solicitation Act, Fla. Stat. § 501.059(8)(a) (as amended
        # 2021/2023), and § 501.616(6)(a): not before 8:00 or after 20:00, every day.
        StateRule("FL", _every_day(time(8, 0), time(20, 0)), "Fla. Stat. § 501.059(8)(a); § 501.616(6)(a)"),
        # Oklahoma Telephone Solicitation Act of 2022, Okla. Stat. tit. 15, § 775C.4:
        # 8:00 to 20:00 local time at the called party, every day (modelled on Florida's).
        StateRule("OK", _every_day(time(8, 0), time(20, 0)), "Okla. Stat. tit. 15, § 775C.4"),
        # Maryland Stop the Spam Calls Act of 2023, Md. Code, Com. Law § 14-4501 et seq.
        # (§ 14-4503): 8:00 to 20:00, every day.
        StateRule("MD", _every_day(time(8, 0), time(20, 0)), "Md. Code, Com. Law § 14-4503 (Stop the Spam Calls Act of 2023)"),
        # Mississippi, Miss. Code § 77-3-723: 8:00 to 20:00 (the state is all in Central
        # time), and no telephone solicitation on a Sunday.
        StateRule("MS", (SendWindow(time(8, 0), time(20, 0)),) * 6 + (None,), "Miss. Code Ann. § 77-3-723"),
        # New Jersey, N.J.S.A. 56:8-119 et seq. and N.J.A.C. 13:45D-4.1: not before
        # 8:00 or after 21:00, every day (the federal hours, written into state law).
        StateRule("NJ", _every_day(time(8, 0), time(21, 0)), "N.J.A.C. 13:45D-4.1; N.J.S.A. 56:8-119 et seq."),
        # Connecticut, Conn. Gen. Stat. § 42-288a as amended by Public Act 23-98:
        # telephonic sales calls and texts not before 9:00 or after 20:00, every day.
        StateRule("CT", _every_day(time(9, 0), time(20, 0)), "Conn. Gen. Stat. § 42-288a (Public Act 23-98)"),
        # Rhode Island, R.I. Gen. Laws § 5-61-3.6 with the "hours of operation" of
        # § 5-61-2: Monday to Friday 9:00 to 18:00, Saturday 10:00 to 17:00, never on
        # Sunday (nor on state or federal holidays).
        StateRule(
            "RI",
            (SendWindow(time(9, 0), time(18, 0)),) * 5 + (SendWindow(time(10, 0), time(17, 0)), None),
            "R.I. Gen. Laws §§ 5-61-2, 5-61-3.6",
        ),
        # Texas, Tex. Bus. & Com. Code § 301.051: Monday to Saturday 9:00 to 21:00,
        # Sunday 12:00 to 21:00.
        StateRule(
            "TX",
            (_NINE_TO_NINE,) * 6 + (SendWindow(time(12, 0), time(21, 0)),),
            "Tex. Bus. & Com. Code § 301.051",
        ),
        # Washington, RCW 80.36.390: no telephone solicitation before 8:00 or after
        # 20:00, every day.
        StateRule("WA", _every_day(time(8, 0), time(20, 0)), "RCW 80.36.390"),
    )
}  # fmt: skip


def _intersect(windows: Iterable[SendWindow]) -> SendWindow | None:
    windows = list(windows)
    start = max(window.start for window in windows)
    end = min(window.end for window in windows)
    return SendWindow(start, end) if start < end else None


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A tenant's configuration: its own window, its per-state windows, and whether it
    attested that a window wider than the federal one is lawful for it."""

    default: SendWindow = field(default_factory=lambda: FEDERAL_WINDOW)
    by_state: Mapping[str, SendWindow] = field(default_factory=dict)
    wider_attested: bool = False

    def window_on(self, state: str | None, day: date) -> SendWindow | None:
        """The window of `day` (the recipient's local date) in `state`; None: no texts."""
        windows = [self.default]
        if not self.wider_attested:
            windows.append(FEDERAL_WINDOW)
        rule = STATE_RULES.get(state) if state else None
        if rule is not None:
            statutory = rule.window_on(day)
            if statutory is None:
                return None
            windows.append(statutory)
        own = self.by_state.get(state) if state else None
        if own is not None:
            windows.append(own)
        return _intersect(windows)


def check_narrowing(hours: QuietHours) -> None:
    """Refuse a configuration that widens what the law allows: a default window wider
    than the federal one without attestation, or a state window wider than its state's
    statutory hours (whatever was attested) or than the federal window (unattested)."""
    if not hours.wider_attested and not _inside(hours.default, FEDERAL_WINDOW):
        raise InvalidInput(
            f"the sending window {_show(hours.default)} is wider than the federal"
            f" {_show(FEDERAL_WINDOW)}: quiet hours may only be narrowed, unless"
            " quiet_hours_wider_attested is true"
        )
    unknown = sorted(set(hours.by_state) - set(_US_STATES.values()))
    if unknown:
        raise InvalidInput(f"not US states: {', '.join(unknown)} (use two-letter codes)")
    for state, window in sorted(hours.by_state.items()):
        rule = STATE_RULES.get(state)
        if rule is not None:
            widest = [day for day in rule.week if day is not None]
            if not any(_inside(window, day) for day in widest):
                raise InvalidInput(
                    f"{state}: {_show(window)} is wider than the state's law allows"
                    f" ({rule.source}); a state window may only narrow it"
                )
        elif not hours.wider_attested and not _inside(window, FEDERAL_WINDOW):
            raise InvalidInput(
                f"{state}: {_show(window)} is wider than the federal {_show(FEDERAL_WINDOW)}"
                " (quiet_hours_wider_attested is false)"
            )


def _inside(inner: SendWindow, outer: SendWindow) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def _show(window: SendWindow) -> str:
    return f"{window.start:%H:%M}-{window.end:%H:%M}"


def recipient_zones(
    phone: str, lead_timezone: str | None, fallback: str = "America/New_York"
) -> tuple[ZoneInfo, ...]:
    """The zones the recipient may be in: the lead's own when valid, else every zone its
    number may be in, else `fallback`. In the NANP that is every zone of its area code,
    not only its exchange's: the exchange data is not complete (most of 219 resolves to
    New York, north-west Indiana's exchanges to Chicago), and a zone too many only
    shortens the window, while a zone too few breaks the law."""
    candidates = _area_code_zones(phone) if phone.startswith("+1") else time_zones(phone)
    for names in ((lead_timezone,), tuple(sorted(candidates)), (fallback,)):
        zones = tuple(zone for name in names if name and (zone := _zone(name)) is not None)
        if zones:
            return zones
    return (ZoneInfo("UTC"),)


def recipient_zone(
    phone: str, lead_timezone: str | None, fallback: str = "America/New_York"
) -> ZoneInfo:
    """One zone of the recipient (the first of `recipient_zones`): for display and for
    callers that need one; sending uses them all."""
    return recipient_zones(phone, lead_timezone, fallback)[0]


# A NANP number with no geographic area code (500, 533, toll-free...) could be anywhere
# the data's country-wide entry says, Guam to Newfoundland; Tether texts US leads, so it
# is taken to be anywhere in the fifty states.
US_ZONES = frozenset(
    {
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
        "America/Anchorage",
        "Pacific/Honolulu",
    }
)


def _area_code_zones(phone: str) -> frozenset[str]:
    """The zones of a NANP number's area code (its exchange's among them)."""
    zones = _nanp_area_codes().get(phone[1:5])
    return (zones | time_zones(phone)) if zones else US_ZONES


@lru_cache(maxsize=1)
def _nanp_area_codes() -> dict[str, frozenset[str]]:
    """Every zone phonenumbers assigns to any range of each NANP area code ("1907")."""
    from phonenumbers.tzdata import TIMEZONE_DATA  # loaded on first use, not at import

    zones: dict[str, set[str]] = {}
    for prefix, names in TIMEZONE_DATA.items():
        if prefix.startswith("1") and len(prefix) >= 4:
            zones.setdefault(prefix[:4], set()).update(
                name for name in names if name != "Etc/Unknown"
            )
    return {code: frozenset(names) for code, names in zones.items()}


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=4096)
def recipient_state(phone: str) -> str | None:
    """The US state (two letters) of a number's range, from the geocoder; None elsewhere."""
    import phonenumbers  # on the first number read, not at import (a cold start)
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


# Enough for any week of rules and any set of zones a phone range spans.
_MAX_STEPS = 64


def next_send_time(
    now: datetime,
    zones: ZoneInfo | Sequence[ZoneInfo],
    hours: QuietHours | SendWindow,
    state: str | None = None,
) -> datetime | None:
    """`now` when it is inside the window in every zone, else the first moment after it
    that is; None when there is none within a week or so (the zones' windows never
    overlap)."""
    zone_list = (zones,) if isinstance(zones, ZoneInfo) else tuple(zones)
    rules = hours if isinstance(hours, QuietHours) else QuietHours(hours, wider_attested=True)
    moment = now
    for _ in range(_MAX_STEPS):
        latest = moment
        for zone in zone_list:
            opening = _next_opening(moment, zone, rules, state)
            if opening is None:
                return None
            latest = max(latest, opening)
        if latest == moment:
            return moment
        moment = latest
    return None


def _next_opening(
    moment: datetime, zone: ZoneInfo, hours: QuietHours, state: str | None
) -> datetime | None:
    local = moment.astimezone(zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        window = hours.window_on(state, day)
        if window is None:
            continue
        opens = datetime.combine(day, window.start, tzinfo=zone)
        closes = datetime.combine(day, window.end, tzinfo=zone)
        if opens <= local < closes:
            return moment
        if local < opens:
            return opens.astimezone(moment.tzinfo or UTC)
    return None
