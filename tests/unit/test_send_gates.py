"""The send gates' decisions (tether.domain.send_gates) and a campaign's status rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.campaigns import Campaign, CampaignStatus
from tether.domain.errors import InvalidState
from tether.domain.lead_state import LeadState
from tether.domain.send_gates import (
    expiry_refusal,
    hand_over_refusal,
    lead_refusal,
    next_day,
    paced_until,
)
from tether.domain.sender import SenderCandidate, choose_sender, choose_senders

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
STATES = [state.value for state in LeadState]


@pytest.mark.parametrize("state", STATES)
def test_only_a_suppressed_or_closed_lead_is_refused(state: str) -> None:
    refusal = lead_refusal(state, opt_out_confirmation=False)
    if state in {"suppressed", "closed"}:
        assert refusal is not None
        assert (refusal.code, refusal.reason) == (f"lead_{state}", f"the lead is {state}")
    else:
        assert refusal is None


@given(st.sampled_from([*STATES, None]), st.booleans())
def test_an_opt_out_confirmation_passes_every_lead_and_suppression_gate(
    state: str | None, suppressed: bool
) -> None:
    assert lead_refusal(state, opt_out_confirmation=True) is None
    assert hand_over_refusal(suppressed, state, opt_out_confirmation=True) is None


@given(st.sampled_from([*STATES, None]))
def test_the_suppression_list_is_checked_before_the_lead(state: str | None) -> None:
    refusal = hand_over_refusal(True, state, opt_out_confirmation=False)
    assert refusal is not None
    assert refusal.code == "suppressed"
    assert hand_over_refusal(False, state, opt_out_confirmation=False) == lead_refusal(
        state, opt_out_confirmation=False
    )


def test_a_send_expires_at_its_deadline_not_before() -> None:
    assert expiry_refusal(None, NOW) is None
    assert expiry_refusal(NOW + timedelta(seconds=1), NOW) is None
    refusal = expiry_refusal(NOW, NOW)
    assert refusal is not None
    assert refusal.code == "expired"
    assert NOW.isoformat() in refusal.reason


@given(st.integers(min_value=-3600, max_value=3600))
def test_pacing_waits_only_for_a_slot_in_the_future(offset: int) -> None:
    slot = NOW + timedelta(seconds=offset)
    assert paced_until(slot, NOW) == (slot if offset > 0 else None)


@given(st.datetimes(timezones=st.just(UTC)))
def test_the_daily_limit_opens_again_at_the_next_utc_midnight(now: datetime) -> None:
    opening = next_day(now)
    assert opening > now
    assert opening - now <= timedelta(days=1)
    assert (opening.hour, opening.minute, opening.second, opening.microsecond) == (0, 0, 0, 0)


def campaign(status: CampaignStatus, template: str | None = "Hi") -> Campaign:
    return Campaign(
        uuid.uuid4(), uuid.uuid4(), "c", "initial_message", "gianna", "pool", template, None,
        status, None, None, NOW, NOW,
    )  # fmt: skip


def test_which_campaigns_may_be_launched() -> None:
    for status in (CampaignStatus.STAGED, CampaignStatus.ACTIVE):
        campaign(status).check_launchable()
    with pytest.raises(InvalidState, match="paused: resume it"):
        campaign(CampaignStatus.PAUSED).check_launchable()
    with pytest.raises(InvalidState, match="a draft campaign cannot be launched: stage it"):
        campaign(CampaignStatus.DRAFT).check_launchable()
    with pytest.raises(InvalidState, match=r"^a completed campaign cannot be launched$"):
        campaign(CampaignStatus.COMPLETED).check_launchable()
    with pytest.raises(InvalidState, match="no template"):
        campaign(CampaignStatus.STAGED, template="  ").check_launchable()


@pytest.mark.parametrize("status", list(CampaignStatus))
def test_pause_and_resume_rules(status: CampaignStatus) -> None:
    if status is CampaignStatus.ACTIVE:
        assert campaign(status).needs_pause() is True
        assert campaign(status).needs_resume() is False
    elif status is CampaignStatus.PAUSED:
        assert campaign(status).needs_pause() is False
        assert campaign(status).needs_resume() is True
    else:
        with pytest.raises(InvalidState, match=f"this one is {status.value}"):
            campaign(status).needs_pause()
        with pytest.raises(InvalidState, match=f"this one is {status.value}"):
            campaign(status).needs_resume()


phones = st.sampled_from(["+14155550199", "+12125550199", "+13105550199", "+447700900123"])


@given(
    st.lists(phones, min_size=1, max_size=30),
    st.lists(
        st.tuples(
            st.sampled_from(["+14155550100", "+12125550100", "+13105550100"]), st.integers(0, 5)
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda c: c[0],
    ),
)
def test_a_batch_binds_as_one_send_after_another_would(
    leads: list[str], numbers: list[tuple[str, int]]
) -> None:
    """choose_senders over a batch equals choose_sender called in turn, each choice
    adding to its number's load (the timers' batch and the API's lone send agree)."""
    candidates = [SenderCandidate(uuid.uuid4(), uuid.uuid4(), n, load) for n, load in numbers]
    pool = list(candidates)
    expected = []
    for phone in leads:
        chosen = choose_sender(phone, pool)
        expected.append(chosen.phone_number)
        index = pool.index(chosen)
        pool[index] = SenderCandidate(
            chosen.assignment_id,
            chosen.phone_number_id,
            chosen.phone_number,
            chosen.bound_leads + 1,
        )
    assert [c.phone_number for c in choose_senders(leads, candidates)] == expected
