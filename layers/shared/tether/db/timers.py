"""SQL for lead timers: scheduling, the job's claim, and recording what firing did.

The job works in batches: one claim statement locks due timers and their leads with
SKIP LOCKED (overlapping runs take disjoint batches, and a lead a reply is holding is
left for the next run), then a handful of set-based statements record the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tether.db.session import Session
from tether.domain.lead_state import LeadState
from tether.domain.timers import ESCALATIONS, Action, DueTimer, TimerType

_ESCALATION_TYPES = [timer_type.value for timer_type in ESCALATIONS]

_CLAIM = """
SELECT t.id, t.tenant_id, t.lead_id, t.timer_type::text AS timer_type, t.attempts, t.max_attempts,
       l.state::text AS lead_state, l.campaign_id AS lead_campaign_id, l.phone,
       e.action AS step_action, e.campaign_id AS step_campaign_id,
       EXISTS (SELECT 1 FROM suppressions s
                WHERE s.tenant_id = t.tenant_id
                  AND s.phone_hash = suppression_phone_hash(t.tenant_id, l.phone)
                  AND s.phone_number_id IS NULL AND s.lifted_at IS NULL) AS suppressed,
       t.timer_type = ANY (%(escalations)s::timer_type[]) AND EXISTS (
           SELECT 1 FROM lead_timers later
            WHERE later.lead_id = t.lead_id AND later.executed_at IS NULL AND later.cancelled_at IS NULL
              AND later.timer_type = ANY (%(escalations)s::timer_type[])
              AND later.trigger_at > t.trigger_at
              AND coalesce(later.retry_at, later.trigger_at) <= %(now)s) AS superseded
  FROM lead_timers t
  JOIN leads l ON l.id = t.lead_id
  LEFT JOIN escalation_steps e ON e.tenant_id = t.tenant_id AND e.timer_type = t.timer_type
 WHERE t.executed_at IS NULL AND t.cancelled_at IS NULL
   AND coalesce(t.retry_at, t.trigger_at) <= %(now)s
   AND (%(timer_ids)s::uuid[] IS NULL OR t.id = ANY (%(timer_ids)s::uuid[]))
 ORDER BY coalesce(t.retry_at, t.trigger_at), t.id
 LIMIT %(limit)s
   FOR NO KEY UPDATE OF t, l SKIP LOCKED
"""


@dataclass(frozen=True, slots=True)
class ClaimedTimer:
    timer: DueTimer
    lead_phone: str


@dataclass(frozen=True, slots=True)
class FiredTimer:
    timer_id: UUID
    message_id: UUID | None


@dataclass(frozen=True, slots=True)
class FailedTimer:
    timer_id: UUID
    error: str
    retry_at: datetime
    gave_up: bool


@dataclass(frozen=True, slots=True)
class TimerEvent:
    tenant_id: UUID
    lead_id: UUID
    event_type: str
    dedupe_key: str
    payload: dict[str, Any]
    previous_state: LeadState | None = None
    new_state: LeadState | None = None


class TimerRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def schedule(
        self, tenant_id: UUID, lead_id: UUID, timer_type: str, trigger_at: datetime
    ) -> UUID:
        """Create the lead's active timer of this type, or move it (seed 002 part 5); a
        moved timer starts its attempts afresh."""
        row = self._conn.execute(
            "INSERT INTO lead_timers (tenant_id, lead_id, timer_type, trigger_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (lead_id, timer_type) WHERE executed_at IS NULL AND cancelled_at IS NULL"
            " DO UPDATE SET trigger_at = EXCLUDED.trigger_at, retry_at = NULL, attempts = 0,"
            " last_error = NULL RETURNING id",
            (tenant_id, lead_id, timer_type, trigger_at),
        ).fetchone()
        assert row is not None
        timer_id: UUID = row["id"]
        return timer_id

    def schedule_escalations(self, tenant_id: UUID, lead_id: UUID, touched_at: datetime) -> None:
        """The 7-, 14- and 30-day timers from `touched_at`, at the tenant's intervals."""
        self._conn.execute(
            "INSERT INTO lead_timers (tenant_id, lead_id, timer_type, trigger_at)"
            " SELECT c.tenant_id, %s, v.timer_type::timer_type, %s + make_interval(days => v.days)"
            " FROM tenant_config c, LATERAL (VALUES ('TIMER_7D', c.timer_7d_days),"
            "   ('TIMER_14D', c.timer_14d_days), ('TIMER_30D', c.timer_30d_days)) AS v(timer_type, days)"
            " WHERE c.tenant_id = %s"
            " ON CONFLICT (lead_id, timer_type) WHERE executed_at IS NULL AND cancelled_at IS NULL"
            " DO UPDATE SET trigger_at = EXCLUDED.trigger_at, retry_at = NULL, attempts = 0,"
            " last_error = NULL",
            (lead_id, touched_at, tenant_id),
        )

    def cancel(
        self, lead_id: UUID, at: datetime, reason: str, timer_type: str | None = None
    ) -> int:
        """Cancel the lead's active timers (of one type, or all): how many."""
        cursor = self._conn.execute(
            "UPDATE lead_timers SET cancelled_at = %s, cancel_reason = %s"
            " WHERE lead_id = %s AND executed_at IS NULL AND cancelled_at IS NULL"
            " AND (%s::timer_type IS NULL OR timer_type = %s::timer_type)",
            (at, reason, lead_id, timer_type, timer_type),
        )
        return cursor.rowcount

    def history(self, lead_id: UUID) -> list[dict[str, Any]]:
        """The lead's timers, pending and past, newest first."""
        return self._conn.execute(
            "SELECT id, timer_type::text AS timer_type, trigger_at, retry_at, executed_at, cancelled_at,"
            " cancel_reason, attempts, max_attempts, last_error, message_id"
            " FROM lead_timers WHERE lead_id = %s ORDER BY created_at DESC, trigger_at DESC",
            (lead_id,),
        ).fetchall()

    def escalation_steps(self) -> dict[str, tuple[str, UUID | None]]:
        """The tenant's configured steps (the session's tenant): (action, campaign) by
        timer type."""
        rows = self._conn.execute(
            "SELECT timer_type::text AS timer_type, action, campaign_id FROM escalation_steps"
        ).fetchall()
        return {row["timer_type"]: (row["action"], row["campaign_id"]) for row in rows}

    def set_escalation_step(
        self, tenant_id: UUID, timer_type: str, action: str, campaign_id: UUID | None
    ) -> None:
        self._conn.execute(
            "INSERT INTO escalation_steps (tenant_id, timer_type, action, campaign_id)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id, timer_type)"
            " DO UPDATE SET action = EXCLUDED.action, campaign_id = EXCLUDED.campaign_id",
            (tenant_id, timer_type, action, campaign_id),
        )

    def remove_escalation_step(self, timer_type: str) -> bool:
        cursor = self._conn.execute(
            "DELETE FROM escalation_steps WHERE timer_type = %s", (timer_type,)
        )
        return cursor.rowcount > 0

    def claim_due(
        self, now: datetime, limit: int, timer_ids: Sequence[UUID] | None = None
    ) -> list[ClaimedTimer]:
        """Lock up to `limit` due timers, oldest first, with their leads, skipping rows
        another run or a reply holds (jobs role: every tenant)."""
        rows = self._conn.execute(
            _CLAIM,
            {
                "now": now,
                "limit": limit,
                "escalations": _ESCALATION_TYPES,
                "timer_ids": list(timer_ids) if timer_ids is not None else None,
            },
        ).fetchall()
        return [
            ClaimedTimer(
                DueTimer(
                    id=row["id"],
                    tenant_id=row["tenant_id"],
                    lead_id=row["lead_id"],
                    timer_type=TimerType(row["timer_type"]),
                    attempts=row["attempts"],
                    max_attempts=row["max_attempts"],
                    lead_state=LeadState(row["lead_state"]),
                    lead_campaign_id=row["lead_campaign_id"],
                    step_action=Action(row["step_action"]) if row["step_action"] else None,
                    step_campaign_id=row["step_campaign_id"],
                    suppressed=row["suppressed"],
                    superseded=row["superseded"],
                ),
                row["phone"],
            )
            for row in rows
        ]

    def count_due(self, now: datetime) -> int:
        row = self._conn.execute(
            "SELECT count(*) AS due FROM lead_timers WHERE executed_at IS NULL AND cancelled_at IS NULL"
            " AND coalesce(retry_at, trigger_at) <= %s",
            (now,),
        ).fetchone()
        assert row is not None
        due: int = row["due"]
        return due

    def call_priorities(self, tenant_ids: Iterable[UUID]) -> dict[UUID, int]:
        """Each tenant's call-queue priority for a callback (tenant_config)."""
        rows = self._conn.execute(
            "SELECT tenant_id, call_priority FROM tenant_config WHERE tenant_id = ANY(%s)",
            (list(tenant_ids),),
        ).fetchall()
        return {row["tenant_id"]: row["call_priority"] for row in rows}

    def append_events(self, events: Sequence[TimerEvent]) -> None:
        if not events:
            return
        self._conn.execute(
            "INSERT INTO lead_events (tenant_id, lead_id, event_type, previous_state, new_state,"
            " payload, dedupe_key)"
            " SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::lead_state[],"
            " %s::lead_state[], %s::jsonb[], %s::text[])",
            (
                [e.tenant_id for e in events],
                [e.lead_id for e in events],
                [e.event_type for e in events],
                [e.previous_state.value if e.previous_state else None for e in events],
                [e.new_state.value if e.new_state else None for e in events],
                [Jsonb(e.payload) for e in events],
                [e.dedupe_key for e in events],
            ),
        )

    def move_leads(self, moves: Sequence[tuple[UUID, UUID]]) -> None:
        """Put each (lead, campaign) lead in that campaign."""
        if not moves:
            return
        self._conn.execute(
            "UPDATE leads l SET campaign_id = v.campaign_id"
            " FROM unnest(%s::uuid[], %s::uuid[]) AS v(lead_id, campaign_id) WHERE l.id = v.lead_id",
            ([lead for lead, _ in moves], [campaign for _, campaign in moves]),
        )

    def close_leads(self, lead_ids: Sequence[UUID], at: datetime) -> None:
        """Close the leads (the transition trigger refuses any it may not close)."""
        if not lead_ids:
            return
        self._conn.execute(
            "UPDATE leads SET state = 'closed', state_changed_at = %s WHERE id = ANY(%s)",
            (at, list(lead_ids)),
        )

    def queue_calls(
        self, calls: Sequence[tuple[UUID, UUID, int, datetime]], reason: str = "callback"
    ) -> list[tuple[UUID, UUID, UUID, int]]:
        """(tenant, lead, priority, due) into the call queue; a lead already queued keeps
        its entry at the higher priority. The new entries: (tenant, lead, id, priority)."""
        if not calls:
            return []
        rows = self._conn.execute(
            "INSERT INTO call_queue (tenant_id, lead_id, priority, reason, due_at)"
            " SELECT v.tenant_id, v.lead_id, v.priority, %s, v.due_at"
            " FROM unnest(%s::uuid[], %s::uuid[], %s::int[], %s::timestamptz[])"
            "   AS v(tenant_id, lead_id, priority, due_at)"
            " ON CONFLICT (lead_id) WHERE status IN ('queued', 'claimed')"
            " DO UPDATE SET priority = greatest(call_queue.priority, EXCLUDED.priority)"
            " RETURNING tenant_id, lead_id, id, priority, xmax = 0 AS inserted",
            (
                reason,
                [c[0] for c in calls],
                [c[1] for c in calls],
                [c[2] for c in calls],
                [c[3] for c in calls],
            ),
        ).fetchall()
        return [
            (row["tenant_id"], row["lead_id"], row["id"], row["priority"])
            for row in rows
            if row["inserted"]
        ]

    def mark_fired(self, fired: Sequence[FiredTimer], at: datetime) -> None:
        if not fired:
            return
        self._conn.execute(
            "UPDATE lead_timers t SET executed_at = %s, attempts = t.attempts + 1, retry_at = NULL,"
            " last_error = NULL, message_id = v.message_id"
            " FROM unnest(%s::uuid[], %s::uuid[]) AS v(id, message_id) WHERE t.id = v.id",
            (at, [f.timer_id for f in fired], [f.message_id for f in fired]),
        )

    def mark_cancelled(self, cancelled: Sequence[tuple[UUID, str]], at: datetime) -> None:
        if not cancelled:
            return
        self._conn.execute(
            "UPDATE lead_timers t SET cancelled_at = %s, cancel_reason = v.reason"
            " FROM unnest(%s::uuid[], %s::text[]) AS v(id, reason) WHERE t.id = v.id",
            (at, [timer_id for timer_id, _ in cancelled], [reason for _, reason in cancelled]),
        )

    def cancel_others(
        self, lead_ids: Sequence[UUID], keep: Sequence[UUID], at: datetime, reason: str
    ) -> None:
        """Cancel the active timers of these leads, except `keep` (a closed lead's rest)."""
        if not lead_ids:
            return
        self._conn.execute(
            "UPDATE lead_timers SET cancelled_at = %s, cancel_reason = %s"
            " WHERE lead_id = ANY(%s) AND NOT (id = ANY(%s))"
            " AND executed_at IS NULL AND cancelled_at IS NULL",
            (at, reason, list(lead_ids), list(keep)),
        )

    def mark_failed(self, failed: Sequence[FailedTimer], at: datetime) -> None:
        """Count the attempt; try again at `retry_at`, or give up (cancelled, with the
        error kept in `last_error`)."""
        if not failed:
            return
        self._conn.execute(
            "UPDATE lead_timers t SET attempts = t.attempts + 1, last_error = v.error,"
            " retry_at = CASE WHEN v.gave_up THEN NULL ELSE v.retry_at END,"
            " cancelled_at = CASE WHEN v.gave_up THEN %s END,"
            " cancel_reason = CASE WHEN v.gave_up THEN 'gave up after max attempts' END"
            " FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[], %s::bool[])"
            "   AS v(id, error, retry_at, gave_up) WHERE t.id = v.id",
            (
                at,
                [f.timer_id for f in failed],
                [f.error for f in failed],
                [f.retry_at for f in failed],
                [f.gave_up for f in failed],
            ),
        )
