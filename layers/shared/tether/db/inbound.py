"""SQL for inbound matching: a reply back to its number, campaign and lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.messages import InboundDraft as InboundDraft  # the messages repository stores it
from tether.db.session import Session

# match_inbound() is the SQL function of migration 0011 (a function, so each connection
# plans it once: planning the statement on every call cost more than running it).
_MATCH = "SELECT * FROM match_inbound(%(tenant)s, %(to)s, %(from)s)"


@dataclass(frozen=True, slots=True)
class InboundMatch:
    number_id: UUID | None  # None: the receiving number is not the tenant's
    assignment_id: UUID | None
    campaign_id: UUID | None
    lead_id: UUID | None
    matched_by: str | None  # 'binding', 'campaign', 'tenant', or None when no lead matched

    @property
    def unmatched_reason(self) -> str | None:
        if self.number_id is None:
            return "the receiving number is not one of the tenant's"
        if self.lead_id is None:
            return "no lead has the sender's number"
        return None


class InboundRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def match(self, tenant_id: UUID, to_number: str, from_number: str) -> InboundMatch:
        """Match normalised (E.164) numbers: the receiving number to its assignment, the
        sender to its lead: first the lead this number texted, then the lead in the
        number's campaign, then the tenant's lead most recently messaged."""
        row = self._conn.execute(
            _MATCH, {"tenant": tenant_id, "to": to_number, "from": from_number}
        ).fetchone()
        assert row is not None
        return InboundMatch(
            row["number_id"],
            row["assignment_id"],
            row["campaign_id"],
            row["lead_id"],
            row["matched_by"],
        )


class InboundMessageRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def park_unmatched(self, tenant_id: UUID, message_id: UUID, reason: str) -> None:
        self._conn.execute(
            "INSERT INTO unmatched_inbound (message_id, tenant_id, reason) VALUES (%s, %s, %s)",
            (message_id, tenant_id, reason),
        )

    def note_reply(self, thread_id: UUID, lead_id: UUID, at: datetime) -> None:
        """The thread has an unread reply; the lead was last messaged now."""
        self._conn.execute(
            "UPDATE threads SET last_message_at = greatest(last_message_at, %s),"
            " last_inbound_at = greatest(last_inbound_at, %s), unread_count = unread_count + 1 WHERE id = %s",
            (at, at, thread_id),
        )
        self._conn.execute(
            "UPDATE leads SET last_message_at = greatest(last_message_at, %s) WHERE id = %s",
            (at, lead_id),
        )

    def lift_suppressions(self, tenant_id: UUID, phone: str, at: datetime, reason: str) -> int:
        cursor = self._conn.execute(
            "UPDATE suppressions SET lifted_at = %s, lifted_reason = %s"
            " WHERE tenant_id = %s AND phone = %s AND lifted_at IS NULL AND reason = 'opt_out'",
            (at, reason, tenant_id, phone),
        )
        return cursor.rowcount

    def set_email(self, lead_id: UUID, email: str) -> None:
        self._conn.execute("UPDATE leads SET email = %s WHERE id = %s", (email, lead_id))


class ReplyEffectsRepository:
    """The rest of what a reply sets in motion: worker, call queue, bell, insight."""

    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def context(self, campaign_id: UUID, number_id: UUID, lead_id: UUID) -> dict[str, Any]:
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
        return dict(row)

    def queue_call(
        self, tenant_id: UUID, lead_id: UUID, priority: int, reason: str, at: datetime
    ) -> bool:
        """One open call-queue entry per lead: a second high-intent reply keeps the first
        (at the higher of the two priorities)."""
        cursor = self._conn.execute(
            "INSERT INTO call_queue (tenant_id, lead_id, priority, reason, due_at) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (lead_id) WHERE status IN ('queued', 'claimed')"
            " DO UPDATE SET priority = greatest(call_queue.priority, EXCLUDED.priority)",
            (tenant_id, lead_id, priority, reason, at),
        )
        return cursor.rowcount == 1

    def notify(
        self,
        tenant_id: UUID,
        workspace_stage: str,
        kind: str,
        campaign_id: UUID,
        lead_id: UUID,
        thread_id: UUID,
        message_id: UUID,
        title: str,
        body: str,
    ) -> None:
        self._conn.execute(
            "INSERT INTO notifications (tenant_id, workspace_stage, kind, campaign_id, lead_id, thread_id,"
            " message_id, title, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (message_id, kind) DO NOTHING",
            (
                tenant_id,
                workspace_stage,
                kind,
                campaign_id,
                lead_id,
                thread_id,
                message_id,
                title,
                body,
            ),
        )

    def record_insight(
        self,
        tenant_id: UUID,
        thread_id: UUID,
        label: str,
        next_step: str | None,
        next_followup_at: datetime | None,
        summary: str,
    ) -> None:
        self._conn.execute(
            "INSERT INTO thread_insights (thread_id, tenant_id, label, next_step, next_followup_at, summary)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (thread_id) DO UPDATE SET label = EXCLUDED.label, next_step = EXCLUDED.next_step,"
            " next_followup_at = EXCLUDED.next_followup_at, summary = EXCLUDED.summary",
            (thread_id, tenant_id, label, next_step, next_followup_at, summary),
        )
