from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from tether.domain.errors import InvalidInput
from tether.domain.quiet_hours import (
    STATE_RULES,
    QuietHours,
    SendWindow,
    check_narrowing,
    next_send_time,
    recipient_state,
    recipient_zone,
    recipient_zones,
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


def test_a_tenants_state_window_narrows_and_the_built_in_rules_always_apply() -> None:
    hours = QuietHours(by_state={"NY": SendWindow(time(10, 0), time(18, 0))})
    monday = date(2026, 11, 23)
    assert hours.window_on("NY", monday) == SendWindow(time(10, 0), time(18, 0))
    assert hours.window_on("FL", monday) == SendWindow(time(8, 0), time(20, 0))
    assert hours.window_on(None, monday) == FEDERAL
    # a tenant that attested a wider window widens the federal floor, never a state's
    wide = QuietHours(SendWindow(time(6, 0), time(23, 0)), wider_attested=True)
    assert wide.window_on("CA", monday) == SendWindow(time(6, 0), time(23, 0))
    assert wide.window_on("TX", monday) == SendWindow(time(9, 0), time(21, 0))
    # without the attestation the federal floor holds whatever the tenant's window says
    assert QuietHours(SendWindow(time(6, 0), time(23, 0))).window_on("CA", monday) == FEDERAL


def test_a_window_must_open_before_it_closes() -> None:
    with pytest.raises(InvalidInput):
        SendWindow(time(21, 0), time(8, 0))


def test_next_send_time_across_zones_uses_every_zone() -> None:
    # 2026-11-23, Monday. 13:30 UTC: 8:30 in New York, 7:30 in Chicago
    now = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    zones = (ZoneInfo("America/New_York"), ZoneInfo("America/Chicago"))
    assert next_send_time(now, zones, QuietHours()) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_zones_whose_windows_never_meet_have_no_send_time() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    zones = (ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo"))
    narrow = QuietHours(SendWindow(time(9, 0), time(12, 0)))
    assert next_send_time(now, zones, narrow) is None


def test_the_leads_own_zone_settles_the_question() -> None:
    assert recipient_zones("+19075550123", "America/Anchorage") == (ZoneInfo("America/Anchorage"),)
    assert len(recipient_zones("+19075550123", None)) > 1


# --- the findings of issue 23, at the recipient's local time (2026-11-22 is a Sunday)
FINDINGS = [
    # Miami at 20:30 under the defaults: Florida's window closes at 20:00
    ("+13055550123", datetime(2026, 11, 24, 1, 30, tzinfo=UTC), datetime(2026, 11, 24, 13, 0, tzinfo=UTC)),
    # Houston on Sunday at 09:30: Texas allows Sundays from noon
    ("+17135550123", datetime(2026, 11, 22, 15, 30, tzinfo=UTC), datetime(2026, 11, 22, 18, 0, tzinfo=UTC)),
    # Houston on a Monday at 08:30: Texas weekdays open at 9:00
    ("+17135550123", datetime(2026, 11, 23, 14, 30, tzinfo=UTC), datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
    # Anchorage at 21:30 (907 also spans Adak, an hour behind): closed until 8:00 in
    # every zone of 907, the last of which (Adak, Honolulu, UTC-10) opens at 18:00 UTC
    ("+19075550123", datetime(2026, 11, 24, 6, 30, tzinfo=UTC), datetime(2026, 11, 24, 18, 0, tzinfo=UTC)),
    # Central-time Dakotas at 21:30 (605 and 701 also span Denver)
    ("+16055550123", datetime(2026, 11, 24, 3, 30, tzinfo=UTC), datetime(2026, 11, 24, 15, 0, tzinfo=UTC)),
    ("+17015550123", datetime(2026, 11, 24, 3, 30, tzinfo=UTC), datetime(2026, 11, 24, 15, 0, tzinfo=UTC)),
    # north Idaho at 07:30 Pacific (208 is mostly Mountain)
    ("+12085550123", datetime(2026, 11, 23, 15, 30, tzinfo=UTC), datetime(2026, 11, 23, 16, 0, tzinfo=UTC)),
    # north-west Indiana (219) at 07:30 Central: 08:30 in New York
    ("+12195550123", datetime(2026, 11, 23, 13, 30, tzinfo=UTC), datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
    # Rhode Island on a Sunday: no texts until Monday 9:00
    ("+14015550123", datetime(2026, 11, 22, 15, 0, tzinfo=UTC), datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
    # Mississippi on a Sunday afternoon: Monday 8:00
    ("+16015550123", datetime(2026, 11, 22, 20, 0, tzinfo=UTC), datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
    # Connecticut at 8:30: 9:00
    ("+12035550123", datetime(2026, 11, 23, 13, 30, tzinfo=UTC), datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
]  # fmt: skip


@pytest.mark.parametrize(("phone", "now", "opening"), FINDINGS)
def test_the_findings_wait_for_the_lawful_opening(
    phone: str, now: datetime, opening: datetime
) -> None:
    hours = QuietHours()
    found = next_send_time(now, recipient_zones(phone, None), hours, recipient_state(phone))
    assert found == opening


@pytest.mark.parametrize(
    ("state", "weekday", "window"),
    [
        ("FL", 6, (time(8), time(20))),
        ("OK", 0, (time(8), time(20))),
        ("MD", 3, (time(8), time(20))),
        ("MS", 5, (time(8), time(20))),
        ("MS", 6, None),
        ("NJ", 2, (time(8), time(21))),
        ("CT", 6, (time(9), time(20))),
        ("RI", 4, (time(9), time(18))),
        ("RI", 5, (time(10), time(17))),
        ("RI", 6, None),
        ("TX", 5, (time(9), time(21))),
        ("TX", 6, (time(12), time(21))),
        ("WA", 1, (time(8), time(20))),
    ],
)
def test_built_in_state_rules_are_on_by_default(
    state: str, weekday: int, window: tuple[time, time] | None
) -> None:
    day = date(2026, 11, 23) + timedelta(days=weekday)  # 2026-11-23 is a Monday
    found = QuietHours().window_on(state, day)
    assert (found.start, found.end) == window if found else window is None
    assert STATE_RULES[state].source  # each rule names its statute


def _us_area_codes() -> list[str]:
    from phonenumbers.tzdata import TIMEZONE_DATA

    codes = sorted(
        {prefix[:4] for prefix in TIMEZONE_DATA if prefix.startswith("1") and len(prefix) >= 4}
    )
    return [
        code
        for code in codes
        if phonenumbers.region_code_for_number(phonenumbers.parse(f"+{code}5550100")) == "US"
    ]


US_AREA_CODES = _us_area_codes()


def test_the_table_covers_the_area_codes_named_in_the_issue() -> None:
    multi = {
        code[1:] for code in US_AREA_CODES if len(recipient_zones(f"+{code}5550100", None)) > 1
    }
    assert {"907", "605", "701", "208", "219"} <= multi
    assert len(US_AREA_CODES) > 300


@pytest.mark.parametrize("code", US_AREA_CODES)
@pytest.mark.parametrize("season", [date(2026, 1, 14), date(2026, 7, 15)])  # Wednesdays
def test_every_us_area_code_spanning_zones_waits_for_all_of_them(code: str, season: date) -> None:
    """For each area code whose candidate zones differ in offset on the day: a moment
    inside the window in one zone and outside it in another is not a sending moment,
    at the opening and at the close."""
    phone = f"+{code}5550100"
    zones = recipient_zones(phone, None)
    state = recipient_state(phone)
    hours = QuietHours()
    noon = datetime.combine(season, time(12), tzinfo=UTC)
    by_offset = sorted(zones, key=lambda zone: noon.astimezone(zone).utcoffset() or timedelta())
    west, east = by_offset[0], by_offset[-1]
    if noon.astimezone(west).utcoffset() == noon.astimezone(east).utcoffset():
        assert len({noon.astimezone(zone).utcoffset() for zone in zones}) == 1
        return  # one offset that day (e.g. Boise and Denver): nothing uncertain
    window = hours.window_on(state, season)
    assert window is not None
    # the east opens first: at its opening the west is still closed
    east_opens = datetime.combine(season, window.start, tzinfo=east).astimezone(UTC)
    assert _inside(east_opens, east, hours, state)
    assert not _inside(east_opens, west, hours, state)
    west_opens = datetime.combine(season, window.start, tzinfo=west).astimezone(UTC)
    assert next_send_time(east_opens, zones, hours, state) == west_opens
    # the west closes last: a minute before its close the east is closed already
    late = datetime.combine(season, window.end, tzinfo=west).astimezone(UTC) - timedelta(minutes=1)
    assert _inside(late, west, hours, state)
    assert not _inside(late, east, hours, state)
    assert next_send_time(late, zones, hours, state) == west_opens + timedelta(days=1)


def _inside(moment: datetime, zone: ZoneInfo, hours: QuietHours, state: str | None) -> bool:
    return next_send_time(moment, zone, hours, state) == moment


def test_a_tenant_may_only_narrow() -> None:
    check_narrowing(
        QuietHours(SendWindow(time(9), time(20)), {"TX": SendWindow(time(10), time(20))})
    )
    with pytest.raises(InvalidInput, match="federal"):
        check_narrowing(QuietHours(SendWindow(time(0), time(23, 59))))
    check_narrowing(QuietHours(SendWindow(time(0), time(23, 59)), wider_attested=True))
    with pytest.raises(InvalidInput, match="TX"):
        check_narrowing(
            QuietHours(by_state={"TX": SendWindow(time(8), time(21))}, wider_attested=True)
        )
    with pytest.raises(InvalidInput, match="FL"):
        check_narrowing(
            QuietHours(by_state={"FL": SendWindow(time(8), time(21))}, wider_attested=True)
        )
    with pytest.raises(InvalidInput, match="NY"):
        check_narrowing(QuietHours(by_state={"NY": SendWindow(time(7), time(21))}))
    check_narrowing(QuietHours(by_state={"NY": SendWindow(time(7), time(21))}, wider_attested=True))


def test_the_readme_lists_every_built_in_state_rule_with_its_source() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {
        cells[1]: cells[3]
        for line in readme.splitlines()
        if line.startswith("| ")
        and len(cells := [cell.strip() for cell in line.split("|")]) > 4
        and len(cells[1]) == 2
        and cells[1].isupper()
    }
    assert rows == {state: rule.source for state, rule in STATE_RULES.items()}
