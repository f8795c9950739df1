"""The demo runs at any hour: its tenant's sending window is the whole day, and every
phone it texts is in no state whose own calling hours would defer a text (Fay's MMS,
to a Washington number, waited for 8 a.m. Seattle time from 04:00 to 16:00 UTC)."""

from __future__ import annotations

import re
from pathlib import Path

from tether.domain.quiet_hours import STATE_RULES, recipient_state
from tether_dev.local import demo

PHONE = re.compile(r'"(\+1\d{10})"')


def test_every_phone_in_the_demo_is_in_no_state_with_its_own_hours() -> None:
    phones = set(PHONE.findall(Path(demo.__file__).read_text()))
    assert len(phones) >= 10  # the leads, the senders, the stranger
    ruled = {phone: recipient_state(phone) for phone in phones}
    assert {p: s for p, s in ruled.items() if s in STATE_RULES} == {}
