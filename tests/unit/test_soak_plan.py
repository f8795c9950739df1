"""The soak's plans and the numbers it makes up: 5,000 leads in the full plan, each a
valid and distinct phone (an invalid one would be rejected at import and never sent)."""

from __future__ import annotations

from tether.domain.phone import normalize_phone
from tether_dev.soak import FULL, SHORT
from tether_dev.soak.drive import lead_phone


def test_the_full_plan_is_the_issues_size_and_the_short_one_smaller() -> None:
    assert FULL.leads == 5000
    assert SHORT.leads < FULL.leads
    assert SHORT.drive_seconds + SHORT.quiesce_seconds < FULL.drive_seconds


def test_every_lead_phone_is_valid_and_distinct_across_both_tenants() -> None:
    phones = [lead_phone(tenant, n) for tenant in (0, 1) for n in range(FULL.leads // 2)]
    assert len(set(phones)) == len(phones)
    assert all(normalize_phone(phone) == phone for phone in phones)
