"""SQL of a reply as the inbound worker stores it: the message itself, and what its
follow-through reads (the rest is written through the aggregates' repositories)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from tether.db.errors import translated_errors
from tether.db.session import Session
from tether.domain.model import ReplyContext


@dataclass(frozen=True, slots=True)
class InboundDraft:
    tenant_id: UUID
    thread_id: UUID
    provider: str
    external_id: str
    from_address: str
    to_address: str
    body: str
    media_urls: list[str]
    received_at: datetime
    lead_id: UUID | None
    campaign_id: UUID | None
    assignment_id: UUID | None
    number_id: UUID | None


class InboundMessageRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def insert(self, draft: InboundDraft) -> UUID | None:
        """The reply, once per provider message id: None when it was stored already."""
        with translated_errors():
            row = self._conn.execute(
                "INSERT INTO messages (tenant_id, direction, thread_id, lead_id, campaign_id, from_address,"
                " to_address, outbound_number_id, campaign_phone_assignment_id, provider, external_id, body,"
                " media_urls, status, received_at)"
                " VALUES (%s, 'inbound', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'received', %s)"
                " ON CONFLICT (provider, external_id) DO NOTHING RETURNING id",
                (
                    draft.tenant_id,
                    draft.thread_id,
                    draft.lead_id,
                    draft.campaign_id,
                    draft.from_address,
                    draft.to_address,
                    draft.number_id,
                    draft.assignment_id,
                    draft.provider,
                    draft.external_id,
                    draft.body,
                    draft.media_urls,
                    draft.received_at,
                ),
            ).fetchone()
        return row["id"] if row else None


class ReplyEffectsRepository:
    """What a matched reply's follow-through reads, and the worker it is attributed to."""

    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def context(self, campaign_id: UUID, number_id: UUID, lead_id: UUID) -> ReplyContext:
        """The campaign's workspace stage and pool, the worker the reply belongs to (its
        number's, else its campaign's), the call priorities and the lead's email."""
        row = self._conn.execute(
            "SELECT c.workspace_stage::text AS workspace_stage, c.pool,"
            " coalesce(p.ai_worker, c.ai_worker)::text AS ai_worker,"
            " t.gold_label_priority, t.call_priority, l.email"
            " FROM campaigns c JOIN tenant_config t ON t.tenant_id = c.tenant_id, phone_numbers p, leads l"
            " WHERE c.id = %s AND p.id = %s AND l.id = %s",
            (campaign_id, number_id, lead_id),
        ).fetchone()
        assert row is not None
        return ReplyContext(
            row["workspace_stage"],
            row["pool"],
            row["ai_worker"],
            row["gold_label_priority"],
            row["call_priority"],
            row["email"],
        )

    def attribute(self, message_id: UUID, ai_worker: str) -> None:
        self._conn.execute(
            "UPDATE messages SET ai_worker = %s WHERE id = %s", (ai_worker, message_id)
        )
