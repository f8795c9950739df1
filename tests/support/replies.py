"""A lead's reply handled as the inbound function handles it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.support.outbound import NOW, SENDER, Outbound
from tether.db.unit_of_work import UnitOfWork
from tether.domain.events import InboundMessage
from tether.services.replies import HandledReply, handle_reply

LEAD_PHONE = "+14155550123"


def reply(
    outbound: Outbound,
    body: str,
    sender: str = "(415) 555-0123",
    to: str = SENDER,
    sid: str | None = None,
) -> HandledReply:
    event = InboundMessage(
        provider="sandbox",
        external_id=sid or f"SM{uuid.uuid4().hex}",
        from_address=sender,
        to_address=to,
        body=body,
        occurred_at=NOW + timedelta(minutes=5),
    )
    return handle_reply(
        UnitOfWork(outbound.app, outbound.tenant_id),
        outbound.tenant_id,
        event,
        uuid.uuid4(),
        NOW + timedelta(minutes=5),
    )
