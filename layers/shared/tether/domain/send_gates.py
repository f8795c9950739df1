"""The gates a send passes before and at its hand-over to the provider, as decisions
without I/O: the services read the facts, these say what follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from tether.domain.channels import capabilities
from tether.domain.lead_state import LeadState

STOPPED_STATES = frozenset({LeadState.SUPPRESSED.value, LeadState.CLOSED.value})


@dataclass(frozen=True, slots=True)
class Refusal:
    """The send fails for good, with this code and reason."""

    code: str
    reason: str


def lead_refusal(lead_state: str | None, *, opt_out_confirmation: bool) -> Refusal | None:
    """A suppressed or closed lead gets no text, but for the one confirmation of its
    opt-out."""
    if opt_out_confirmation or lead_state not in STOPPED_STATES:
        return None
    return Refusal(f"lead_{lead_state}", f"the lead is {lead_state}")


def hand_over_refusal(
    suppressed: bool, lead_state: str | None, *, opt_out_confirmation: bool
) -> Refusal | None:
    """At the hand-over, with the phone held against opt-outs: the suppression list
    first, then the lead's state."""
    if opt_out_confirmation:
        return None
    if suppressed:
        return Refusal("suppressed", "the recipient opted out")
    return lead_refusal(lead_state, opt_out_confirmation=False)


# The texts a tenant starts (API sends, launches, timers) need consent when the tenant
# requires it; the answers to the person's own text (auto reply, the opt-out
# confirmation, HELP) do not: the person wrote first, and CTIA wants those answered.
CONSENT_GATED_PURPOSES = frozenset({"campaign"})


def consent_refusal(purpose: str, has_consent: bool, channel: str = "sms") -> Refusal | None:
    """With require_consent on, a campaign text to a phone without consent in force on
    the send's channel."""
    if has_consent or purpose not in CONSENT_GATED_PURPOSES:
        return None
    return Refusal(
        "consent_missing",
        "this tenant requires consent (require_consent) and the lead's phone has none in"
        f" force on {channel}: record one (POST /v1/consents or the import's consent columns)",
    )


def expiry_refusal(expires_at: datetime | None, now: datetime) -> Refusal | None:
    if expires_at is not None and now >= expires_at:
        return Refusal("expired", f"not sent by its validity deadline {expires_at.isoformat()}")
    return None


def quiet_hours_refusal() -> Refusal:
    """No instant is inside the window in every zone the recipient may be in."""
    return Refusal("quiet_hours", "no time is inside the window in every zone of the recipient")


def paced_until(slot: datetime, now: datetime) -> datetime | None:
    """When a send whose number's next pacing slot is `slot` must wait until (None: it
    may go now)."""
    return slot if slot > now else None


def next_day(now: datetime) -> datetime:
    """Midnight UTC after `now`: when a number's daily segment count starts again."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC)


def session_window_refusal(
    channel: str, last_inbound_at: datetime | None, now: datetime, *, templated: bool
) -> Refusal | None:
    """A channel with a customer-service window (WhatsApp's 24 hours, from
    tether.domain.channels) takes free-form text only until the window that the person's
    last message opened closes, the closing instant itself excluded; an approved
    template may go at any time."""
    window = capabilities(channel).session_window
    if window is None or templated:
        return None
    if last_inbound_at is None:
        return Refusal(
            "session_window_closed",
            f"the person has never written on this {channel} thread, so its"
            f" {_hours(window)}-hour window never opened: send an approved template",
        )
    closes_at = last_inbound_at + window
    if now < closes_at:
        return None
    return Refusal(
        "session_window_closed",
        f"the {_hours(window)}-hour {channel} window closed at {closes_at.isoformat()}"
        f" ({_hours(window)} hours after the person's last message): send an approved template",
    )


def _hours(window: timedelta) -> int:
    return int(window.total_seconds() // 3600)
