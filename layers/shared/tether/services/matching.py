"""Inbound matching (seed 000, improved): every reply back through the number it was
sent to, to its campaign and lead."""

from __future__ import annotations

from uuid import UUID

from tether.db.leads import InboundMatch
from tether.db.unit_of_work import UnitOfWork
from tether.domain.channels import capabilities
from tether.domain.phone import normalize_or_keep


def match_inbound(
    uow: UnitOfWork,
    tenant_id: UUID,
    to_address: str,
    from_address: str,
    region: str = "US",
    *,
    channel: str = "sms",
) -> InboundMatch:
    """Match a reply by exact normalised numbers, through the receiving number's
    assignment and sender binding for the message's channel (an SMS or an MMS through
    the number's SMS assignment, a WhatsApp message through its WhatsApp one). A sender
    that is not a phone number (a short code, an alphanumeric id) is kept as it came and
    simply matches no lead."""
    sender_channel = capabilities(channel).sender_channel or channel
    return uow.leads.match(
        tenant_id,
        normalize_or_keep(to_address, region),
        normalize_or_keep(from_address, region),
        sender_channel,
    )
