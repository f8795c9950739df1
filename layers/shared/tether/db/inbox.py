"""SQL of what the team works from: threads, the bell, the call queue, unmatched
replies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.model import CallEntry, Thread, UnmatchedReply
from tether.domain.pagination import Position, RankedPosition

THREAD_COLUMNS = (
    "t.id, t.channel, t.our_address, t.their_address, t.lead_id, t.campaign_id,"
    " c.workspace_stage::text AS workspace_stage, t.last_message_at, t.last_inbound_at,"
    " t.unread_count, i.label, i.next_step, i.next_followup_at, i.summary, t.created_at"
)
NOTIFICATION_COLUMNS = (
    "id, workspace_stage::text AS workspace_stage, kind, campaign_id, lead_id, thread_id,"
    " message_id, title, body, read_at, created_at"
)
CALL_COLUMNS = (
    "q.id, q.lead_id, l.phone AS lead_phone, l.first_name, l.last_name, q.priority, q.reason,"
    " q.status, q.due_at, q.claimed_by, q.claimed_at, q.created_at"
)


class ThreadRepository:
    """Threads (seed 003: one per tenant, channel and pair of addresses) and their
    insights."""

    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def for_addresses(
        self,
        tenant_id: UUID,
        our_address: str,
        their_address: str,
        lead_id: UUID | None,
        campaign_id: UUID | None,
        channel: str = "sms",
    ) -> UUID:
        """The one thread of this pair of addresses on `channel` (a conversation:
        'sms', 'whatsapp', 'email'), made on first use; a lead or a campaign it did not
        name yet is named from now on."""
        row = self._conn.execute(
            "INSERT INTO threads (tenant_id, channel, our_address, their_address, lead_id, campaign_id)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, channel, our_address, their_address)"
            " DO UPDATE SET lead_id = coalesce(threads.lead_id, EXCLUDED.lead_id),"
            " campaign_id = coalesce(threads.campaign_id, EXCLUDED.campaign_id)"
            " RETURNING id",
            (tenant_id, channel, our_address, their_address, lead_id, campaign_id),
        ).fetchone()
        assert row is not None
        thread_id: UUID = row["id"]
        return thread_id

    def for_addresses_many(
        self, pairs: Sequence[tuple[UUID, str, str, UUID | None, UUID | None]]
    ) -> dict[tuple[UUID, str, str], UUID]:
        """`for_addresses` of many (tenant, our address, their address, lead, campaign) in
        one statement; keyed by (tenant, our address, their address)."""
        unique = list({(pair[0], pair[1], pair[2]): pair for pair in pairs}.values())
        if not unique:
            return {}
        rows = self._conn.execute(
            "INSERT INTO threads (tenant_id, channel, our_address, their_address, lead_id, campaign_id)"
            " SELECT v.tenant_id, 'sms', v.ours, v.theirs, v.lead_id, v.campaign_id"
            " FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::uuid[], %b::uuid[])"
            "   AS v(tenant_id, ours, theirs, lead_id, campaign_id)"
            " ON CONFLICT (tenant_id, channel, our_address, their_address)"
            " DO UPDATE SET lead_id = coalesce(threads.lead_id, EXCLUDED.lead_id),"
            " campaign_id = coalesce(threads.campaign_id, EXCLUDED.campaign_id)"
            " RETURNING id, tenant_id, our_address, their_address",
            tuple(list(column) for column in zip(*unique, strict=True)),
        ).fetchall()
        return {(r["tenant_id"], r["our_address"], r["their_address"]): r["id"] for r in rows}

    def note_reply(self, thread_id: UUID, at: datetime) -> None:
        """The thread has one more unread reply, received at `at`."""
        self._conn.execute(
            "UPDATE threads SET last_message_at = greatest(last_message_at, %s),"
            " last_inbound_at = greatest(last_inbound_at, %s), unread_count = unread_count + 1 WHERE id = %s",
            (at, at, thread_id),
        )

    def name_lead(self, thread_id: UUID, lead_id: UUID, campaign_id: UUID | None) -> None:
        """The thread is the lead's (and its campaign's) if it named none yet."""
        self._conn.execute(
            "UPDATE threads SET lead_id = coalesce(lead_id, %s),"
            " campaign_id = coalesce(campaign_id, %s) WHERE id = %s",
            (lead_id, campaign_id, thread_id),
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

    def page(
        self,
        after: Position | None,
        limit: int,
        workspace_stage: str | None,
        label: str | None,
        unread: bool | None,
    ) -> list[Thread]:
        """Threads, most recently active first (`Thread.active_at`)."""
        condition, order = newest_first("coalesce(t.last_message_at, t.created_at)", "t.id")
        rows = self._conn.execute(
            f"SELECT {THREAD_COLUMNS} FROM threads t"
            " LEFT JOIN campaigns c ON c.id = t.campaign_id"
            " LEFT JOIN thread_insights i ON i.thread_id = t.id"
            f" WHERE {condition}"
            " AND (%(stage)s::text IS NULL OR c.workspace_stage::text = %(stage)s)"
            " AND (%(label)s::text IS NULL OR i.label = %(label)s)"
            " AND (%(unread)s::boolean IS NULL OR (t.unread_count > 0) = %(unread)s)"
            f" {order}",
            after_position(after, limit, stage=workspace_stage, label=label, unread=unread),
        ).fetchall()
        return [Thread(**row) for row in rows]

    def get(self, thread_id: UUID) -> Thread | None:
        row = self._conn.execute(
            f"SELECT {THREAD_COLUMNS} FROM threads t"
            " LEFT JOIN campaigns c ON c.id = t.campaign_id"
            " LEFT JOIN thread_insights i ON i.thread_id = t.id WHERE t.id = %s",
            (thread_id,),
        ).fetchone()
        return Thread(**row) if row else None

    def messages(self, thread_id: UUID, limit: int) -> list[dict[str, Any]]:
        """The thread's latest messages, oldest first."""
        return self._conn.execute(
            "SELECT * FROM (SELECT id, direction, from_address, to_address, body, media_urls,"
            " status, error_code, error_reason, not_before, external_id, lead_id, campaign_id,"
            " created_at, sent_at, delivered_at, received_at"
            " FROM messages WHERE thread_id = %s ORDER BY created_at DESC, id DESC LIMIT %s) AS latest"
            " ORDER BY created_at, id",
            (thread_id, limit),
        ).fetchall()


class NotificationRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add(
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
    ) -> UUID | None:
        """The bell of a workspace stage, once per message and kind: its id, or None
        when it was rung before."""
        row = self._conn.execute(
            "INSERT INTO notifications (tenant_id, workspace_stage, kind, campaign_id, lead_id, thread_id,"
            " message_id, title, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (message_id, kind) DO NOTHING RETURNING id",
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
        ).fetchone()
        return row["id"] if row else None

    def page(
        self, after: Position | None, limit: int, workspace_stage: str | None, unread: bool | None
    ) -> list[dict[str, Any]]:
        condition, order = newest_first()
        return self._conn.execute(
            f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE {condition}"
            " AND (%(stage)s::text IS NULL OR workspace_stage::text = %(stage)s)"
            " AND (%(unread)s::boolean IS NULL OR (read_at IS NULL) = %(unread)s)"
            f" {order}",
            after_position(after, limit, stage=workspace_stage, unread=unread),
        ).fetchall()

    def mark_read(self, notification_id: UUID, at: datetime) -> dict[str, Any] | None:
        return self._conn.execute(
            "UPDATE notifications SET read_at = coalesce(read_at, %s) WHERE id = %s"
            f" RETURNING {NOTIFICATION_COLUMNS}",
            (at, notification_id),
        ).fetchone()

    def unread_counts(self, tenant_id: UUID) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT workspace_stage::text AS stage, count(*) AS unread FROM notifications"
            " WHERE tenant_id = %s AND read_at IS NULL GROUP BY workspace_stage",
            (tenant_id,),
        ).fetchall()
        return {row["stage"]: row["unread"] for row in rows}


class CallQueueRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add(
        self, tenant_id: UUID, lead_id: UUID, priority: int, reason: str, at: datetime
    ) -> UUID | None:
        """One open call-queue entry per lead: a second high-intent reply keeps the first
        (at the higher of the two priorities). The new entry's id, or None when the lead
        was queued already."""
        row = self._conn.execute(
            "INSERT INTO call_queue (tenant_id, lead_id, priority, reason, due_at) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (lead_id) WHERE status IN ('queued', 'claimed')"
            " DO UPDATE SET priority = greatest(call_queue.priority, EXCLUDED.priority)"
            " RETURNING id, xmax = 0 AS inserted",  # xmax 0: a new row, not the upsert's update
            (tenant_id, lead_id, priority, reason, at),
        ).fetchone()
        return row["id"] if row and row["inserted"] else None

    def page(self, tenant_id: UUID, after: RankedPosition | None, limit: int) -> list[CallEntry]:
        """Queued calls by priority, highest first, then by when they are due."""
        priority, due_at, row_id = after if after is not None else (None, None, None)
        rows = self._conn.execute(
            f"SELECT {CALL_COLUMNS} FROM call_queue q JOIN leads l ON l.id = q.lead_id"
            " WHERE q.tenant_id = %(tenant)s AND q.status = 'queued'"
            " AND (%(priority)s::integer IS NULL OR q.priority < %(priority)s"
            "      OR (q.priority = %(priority)s AND (q.due_at, q.id) > (%(due)s, %(id)s::uuid)))"
            " ORDER BY q.priority DESC, q.due_at, q.id LIMIT %(limit)s",
            {
                "tenant": tenant_id,
                "priority": priority,
                "due": due_at,
                "id": row_id,
                "limit": limit + 1,
            },
        ).fetchall()
        return [CallEntry(**row) for row in rows]

    def claim_next(self, tenant_id: UUID, claimed_by: str, now: datetime) -> CallEntry | None:
        """Claim the first due call in priority order. SKIP LOCKED: two agents claiming
        at once get two different calls, and neither waits for the other."""
        row = self._conn.execute(
            "WITH next AS ("
            "  SELECT id FROM call_queue WHERE tenant_id = %(tenant)s AND status = 'queued'"
            "  AND due_at <= %(now)s ORDER BY priority DESC, due_at, id LIMIT 1"
            "  FOR UPDATE SKIP LOCKED"
            "), claimed AS ("
            "  UPDATE call_queue q SET status = 'claimed', claimed_by = %(by)s, claimed_at = %(now)s"
            "  FROM next WHERE q.id = next.id RETURNING q.*"
            f") SELECT {CALL_COLUMNS} FROM claimed q JOIN leads l ON l.id = q.lead_id",
            {"tenant": tenant_id, "by": claimed_by, "now": now},
        ).fetchone()
        return CallEntry(**row) if row else None


class UnmatchedRepository:
    """Replies that matched no lead, kept in view until someone gives them one."""

    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def park(self, tenant_id: UUID, message_id: UUID, reason: str) -> None:
        self._conn.execute(
            "INSERT INTO unmatched_inbound (message_id, tenant_id, reason) VALUES (%s, %s, %s)",
            (message_id, tenant_id, reason),
        )

    def page(self, after: Position | None, limit: int) -> list[dict[str, Any]]:
        """Replies still waiting for a lead, newest first."""
        condition, order = newest_first("u.created_at", "u.message_id")
        return self._conn.execute(
            "SELECT u.message_id, u.reason, u.created_at, m.from_address, m.to_address, m.body,"
            " m.received_at, m.thread_id FROM unmatched_inbound u JOIN messages m ON m.id = u.message_id"
            f" WHERE u.resolved_at IS NULL AND {condition} {order}",
            after_position(after, limit),
        ).fetchall()

    def lock(self, message_id: UUID) -> UnmatchedReply | None:
        row = self._conn.execute(
            "SELECT u.message_id, u.resolved_at, u.resolved_lead_id, m.thread_id, m.body,"
            " m.from_address, m.to_address, m.received_at"
            " FROM unmatched_inbound u JOIN messages m ON m.id = u.message_id"
            " WHERE u.message_id = %s FOR UPDATE OF u",
            (message_id,),
        ).fetchone()
        if row is None:
            return None
        return UnmatchedReply(
            row["message_id"],
            row["thread_id"],
            row["body"],
            row["resolved_at"],
            row["resolved_lead_id"],
            row["from_address"],
            row["to_address"],
            row["received_at"],
        )

    def resolve(self, message_id: UUID, lead_id: UUID, at: datetime) -> None:
        """The entry is resolved: the reply is the lead's (the message itself:
        MessageRepository.assign_lead; its thread: ThreadRepository)."""
        self._conn.execute(
            "UPDATE unmatched_inbound SET resolved_at = %s, resolved_lead_id = %s WHERE message_id = %s",
            (at, lead_id, message_id),
        )
