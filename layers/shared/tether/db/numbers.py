"""SQL for the number inventory, campaign assignments, sticky senders and leases.

The statements that decide who gets a number (staging, binding, leasing, releasing)
are single statements that lock what they take with FOR UPDATE SKIP LOCKED, so
concurrent callers never wait on each other and never take the same row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from tether.db.session import Session
from tether.domain.errors import NotFound
from tether.domain.leases import CallOutcome, LeaseRules
from tether.domain.numbers import DeliveryCounted, PhoneNumber
from tether.domain.outbox import EventType, OutboxEvent
from tether.domain.sender import SenderCandidate


@dataclass(frozen=True, slots=True)
class NumberHealthRules:
    failure_threshold: float
    min_sample: int
    cooldown_hours: int


@dataclass(frozen=True, slots=True)
class NumberSettings:
    default_region: str
    lease: LeaseRules
    health: NumberHealthRules


@dataclass(frozen=True, slots=True)
class Lease:
    phone_number_id: UUID
    phone_number: str
    lead_id: UUID
    pool: str
    assigned_at: datetime
    release_at: datetime
    already_held: bool = False


@dataclass(frozen=True, slots=True)
class SenderBinding:
    lead_id: UUID
    campaign_id: UUID
    assignment_id: UUID
    phone_number_id: UUID
    phone_number: str
    number_status: str
    channel: str = "sms"
    provider: str = ""  # the number's provider (a WhatsApp send needs one that carries it)


@dataclass(frozen=True, slots=True)
class SenderFacts:
    id: UUID
    e164: str
    status: str
    whatsapp_enabled: bool
    provider: str


@dataclass(frozen=True, slots=True)
class LeaseClaim:
    """What a claim did: the pool it claimed in (the lead's campaign's when none was
    named; None when the lead has neither), the lease (None: nothing free, audited),
    and the lease.acquired event it wrote with a new lease."""

    pool: str | None
    lease: Lease | None
    event: OutboxEvent | None


# claim_lease() is the SQL function of migration 0039: the whole claim (the tenant's
# scope, the lease, the lead, its event, the outbox event or the exhaustion's audit
# row) in one statement, so one round trip; a function so its plans are cached per
# connection.
_CLAIM = "SELECT * FROM claim_lease(%(tenant_id)s, %(lead_id)s, %(pool)s, %(now)s)"

# Releases a batch of leases and records each release on its lead, in one statement.
# The cooldown comes from each number's tenant, so the jobs role can release across
# tenants in one pass.
_RELEASE = """
WITH due AS (
    SELECT p.id, p.tenant_id, p.pool, p.e164, p.currently_assigned_to AS lead_id, p.assigned_at
    FROM phone_numbers p
    WHERE p.assignment_status = 'assigned' AND {condition}
    ORDER BY p.release_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), released AS (
    UPDATE phone_numbers AS p
    SET assignment_status = 'available', currently_assigned_to = NULL, assigned_at = NULL,
        release_at = NULL, no_answer_count = 0,
        cooldown_until = greatest(p.cooldown_until, %(now)s + make_interval(mins => c.lease_cooldown_minutes))
    FROM due JOIN tenant_config c ON c.tenant_id = due.tenant_id
    WHERE p.id = due.id
    RETURNING p.id
), event AS (
    INSERT INTO lead_events (tenant_id, lead_id, event_type, payload, dedupe_key, occurred_at)
    SELECT due.tenant_id, due.lead_id, 'NUMBER_RELEASED',
           jsonb_build_object('phone_number_id', due.id, 'phone_number', due.e164, 'pool', due.pool,
                              'reason', %(reason)s::text),
           'release:' || due.id || ':' || extract(epoch FROM due.assigned_at)::text, %(now)s
    FROM due JOIN released ON released.id = due.id
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT due.id, due.tenant_id, due.lead_id, due.pool, due.e164 FROM due JOIN released ON released.id = due.id
"""


class NumberRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def settings(self, tenant_id: UUID) -> NumberSettings | None:
        row = self._conn.execute(
            "SELECT default_region, timezone, lease_hours_without_booking, lease_hours_after_appointment,"
            " lease_no_answer_retries, lease_cooldown_minutes, number_failure_threshold,"
            " number_health_min_sample, number_health_cooldown_hours"
            " FROM tenant_config WHERE tenant_id = %s",
            (tenant_id,),
        ).fetchone()
        if row is None:
            return None
        return NumberSettings(
            default_region=row["default_region"],
            lease=LeaseRules(
                hours_without_booking=row["lease_hours_without_booking"],
                hours_after_appointment=row["lease_hours_after_appointment"],
                no_answer_retries=row["lease_no_answer_retries"],
                cooldown_minutes=row["lease_cooldown_minutes"],
                timezone=row["timezone"],
            ),
            health=NumberHealthRules(
                failure_threshold=float(row["number_failure_threshold"]),
                min_sample=row["number_health_min_sample"],
                cooldown_hours=row["number_health_cooldown_hours"],
            ),
        )

    def provider_account_exists(self, account_id: UUID) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM provider_accounts WHERE id = %s", (account_id,)
        ).fetchone()
        return row is not None

    def add_many(
        self,
        tenant_id: UUID,
        account_id: UUID,
        pool: str,
        numbers: Sequence[tuple[str, str | None]],
    ) -> set[str]:
        """Insert (e164, label) pairs; those already registered are left as they are.
        Returns the numbers inserted."""
        if not numbers:
            return set()
        rows = self._conn.execute(
            "INSERT INTO phone_numbers (tenant_id, provider_account_id, pool, e164, label)"
            " SELECT %s, %s, %s, n.e164, n.label FROM unnest(%s::text[], %s::text[]) AS n (e164, label)"
            " ON CONFLICT (tenant_id, e164) DO NOTHING RETURNING id, e164, pool, label",
            (
                tenant_id,
                account_id,
                pool,
                [n for n, _ in numbers],
                [label for _, label in numbers],
            ),
        ).fetchall()
        return {row["e164"] for row in rows}

    def get(self, number_id: UUID, *, for_update: bool = False) -> PhoneNumber | None:
        lock = " FOR UPDATE" if for_update else ""
        row = self._conn.execute(
            "SELECT id, tenant_id, e164, pool, status, assignment_status, currently_assigned_to,"
            " cooldown_until, sent_count, delivered_count, failed_count, filtered_count"
            " FROM phone_numbers WHERE id = %s" + lock,
            (number_id,),
        ).fetchone()
        return PhoneNumber(**row) if row else None

    def retire(self, number_id: UUID, at: datetime) -> bool:
        cursor = self._conn.execute(
            "UPDATE phone_numbers SET status = 'retired', retired_at = %s"
            " WHERE id = %s AND status = 'active'",
            (at, number_id),
        )
        return cursor.rowcount == 1

    def record_delivery(
        self, number_id: UUID, outcome: str, at: datetime
    ) -> DeliveryCounted | None:
        """Count one delivery outcome ('sent', 'delivered', 'failed', 'filtered') and, in
        the same statement, rest the number when its failure or filtering rate since
        its last rest passes the tenant's threshold over at least its minimum sample."""
        row = self._conn.execute(
            """
            WITH counted AS (
                SELECT p.id,
                       sent_count + (%(outcome)s = 'sent')::int AS sent,
                       delivered_count + (%(outcome)s = 'delivered')::int AS delivered,
                       failed_count + (%(outcome)s = 'failed')::int AS failed,
                       filtered_count + (%(outcome)s = 'filtered')::int AS filtered,
                       health_baseline_sent, health_baseline_failed, health_baseline_filtered,
                       c.number_failure_threshold, c.number_health_min_sample, c.number_health_cooldown_hours
                FROM phone_numbers p JOIN tenant_config c ON c.tenant_id = p.tenant_id
                WHERE p.id = %(id)s FOR UPDATE OF p
            ), judged AS (
                SELECT *, (sent - health_baseline_sent) >= number_health_min_sample
                          AND greatest(failed - health_baseline_failed, filtered - health_baseline_filtered)
                              > number_failure_threshold * (sent - health_baseline_sent) AS unhealthy
                FROM counted
            )
            UPDATE phone_numbers p
            SET sent_count = j.sent, delivered_count = j.delivered,
                failed_count = j.failed, filtered_count = j.filtered,
                cooldown_until = CASE WHEN j.unhealthy
                    THEN greatest(p.cooldown_until, %(at)s + make_interval(hours => j.number_health_cooldown_hours))
                    ELSE p.cooldown_until END,
                health_baseline_sent = CASE WHEN j.unhealthy THEN j.sent ELSE p.health_baseline_sent END,
                health_baseline_failed = CASE WHEN j.unhealthy THEN j.failed ELSE p.health_baseline_failed END,
                health_baseline_filtered = CASE WHEN j.unhealthy THEN j.filtered ELSE p.health_baseline_filtered END
            FROM judged j
            WHERE p.id = j.id
            RETURNING p.id, p.e164, j.unhealthy AS rested, p.cooldown_until
            """,
            {"id": number_id, "outcome": outcome, "at": at},
        ).fetchone()
        return DeliveryCounted(**row) if row else None

    def reserve_pacing_slot(
        self, number_id: UUID, segments: int, per_second: Decimal, now: datetime
    ) -> datetime:
        """Reserve the number's next free sending instant for `segments`: now if the
        number is idle, else when the sends ahead of this one have had their time."""
        row = self._conn.execute(
            "WITH slot AS (SELECT greatest(coalesce(pacing_next_at, %(now)s), %(now)s) AS at"
            "   FROM phone_numbers WHERE id = %(id)s FOR UPDATE)"
            " UPDATE phone_numbers p SET pacing_next_at = slot.at + make_interval(secs => %(secs)s)"
            " FROM slot WHERE p.id = %(id)s RETURNING slot.at",
            {"id": number_id, "now": now, "secs": float(segments / per_second)},
        ).fetchone()
        assert row is not None
        slot: datetime = row["at"]
        return slot

    def set_worker(self, tenant_id: UUID, numbers: list[str], ai_worker: str) -> None:
        """Give registered numbers to an AI worker (seed 002 part 7)."""
        self._conn.execute(
            "UPDATE phone_numbers SET ai_worker = %s WHERE tenant_id = %s AND e164 = ANY(%s)",
            (ai_worker, tenant_id, numbers),
        )

    # leases (seed 001): the pool's numbers lent to leads

    def claim(
        self, tenant_id: UUID, lead_id: UUID, pool: str | None, now: datetime, *, alone: bool
    ) -> LeaseClaim:
        """Lease the least recently used rested number of `pool` (None: the lead's
        campaign's) to the lead, or give back the one it holds; NotFound when the lead
        is not the tenant's. `alone`: the claim is a transaction of its own, committed
        as the statement ends (one round trip, see Session.execute_alone); else it is a
        step of the open transaction."""
        params = {"tenant_id": tenant_id, "lead_id": lead_id, "pool": pool, "now": now}
        if alone:
            rows = self._conn.execute_alone(_CLAIM, params)
        else:
            rows = self._conn.execute(_CLAIM, params).fetchall()
        row = rows[0]  # the function always answers one row
        if not row["lead_found"]:
            raise NotFound("lead", lead_id)
        if row["phone_number_id"] is None:
            return LeaseClaim(row["pool"], None, None)
        lease = Lease(
            row["phone_number_id"],
            row["e164"],
            lead_id,
            row["pool"],
            row["assigned_at"],
            row["release_at"],
            row["already_held"],
        )
        event = None
        if row["event_id"] is not None:
            event = OutboxEvent(
                row["event_id"],
                tenant_id,
                EventType.LEASE_ACQUIRED,
                1,
                lead_id,
                row["assigned_at"],
                row["event_data"],
                None,
                None,
            )
        return LeaseClaim(row["pool"], lease, event)

    def held(self, lead_id: UUID, pool: str) -> dict[str, Any] | None:
        return self._conn.execute(
            "SELECT id, e164, assigned_at, release_at, no_answer_count FROM phone_numbers"
            " WHERE currently_assigned_to = %s AND pool = %s FOR UPDATE",
            (lead_id, pool),
        ).fetchone()

    def record_outcome(
        self,
        number_id: UUID,
        outcome: CallOutcome,
        release_at: datetime,
        appointment_at: datetime | None,
    ) -> None:
        self._conn.execute(
            "UPDATE phone_numbers SET last_call_outcome = %s, release_at = %s,"
            " appointment_scheduled_at = coalesce(%s, appointment_scheduled_at),"
            " no_answer_count = no_answer_count + (%s = 'no_answer')::int"
            " WHERE id = %s",
            (outcome.value, release_at, appointment_at, outcome.value, number_id),
        )

    def release_number(self, number_id: UUID, now: datetime, reason: str) -> list[dict[str, Any]]:
        return self._release("p.id = %(number_id)s", {"number_id": number_id}, now, reason, 1)

    def release_expired(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        return self._release("p.release_at <= %(now)s", {}, now, "expired", limit)

    def _release(
        self, condition: str, params: dict[str, Any], now: datetime, reason: str, limit: int
    ) -> list[dict[str, Any]]:
        query = _RELEASE.format(condition=condition)
        return self._conn.execute(
            query.encode(), {**params, "now": now, "reason": reason, "limit": limit}
        ).fetchall()


class CampaignNumberRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def assignments(self, campaign_id: UUID, channel: str | None = None) -> list[dict[str, Any]]:
        """The campaign's numbers on `channel` (None: on every channel)."""
        return self._conn.execute(
            "SELECT id, phone_number_id, phone_number, is_primary, channel"
            " FROM campaign_phone_assignments"
            " WHERE campaign_id = %s AND (%s::text IS NULL OR channel = %s)"
            " ORDER BY channel, is_primary DESC, assigned_at, phone_number",
            (campaign_id, channel, channel),
        ).fetchall()

    def add_sender(
        self,
        tenant_id: UUID,
        campaign_id: UUID,
        number_id: UUID,
        e164: str,
        channel: str,
    ) -> dict[str, Any]:
        """One more number for the campaign on `channel`: its primary when it has none
        there yet. Migration 0036's trigger refuses a WhatsApp one that is no WhatsApp
        sender of a provider that carries WhatsApp."""
        row = self._conn.execute(
            "INSERT INTO campaign_phone_assignments"
            " (tenant_id, campaign_id, phone_number_id, phone_number, channel, is_primary)"
            " SELECT %(tenant)s, %(campaign)s, %(number)s, %(e164)s, %(channel)s,"
            "  NOT EXISTS (SELECT 1 FROM campaign_phone_assignments"
            "   WHERE campaign_id = %(campaign)s AND channel = %(channel)s AND is_primary)"
            " RETURNING id, phone_number_id, phone_number, is_primary, channel",
            {
                "tenant": tenant_id,
                "campaign": campaign_id,
                "number": number_id,
                "e164": e164,
                "channel": channel,
            },
        ).fetchone()
        assert row is not None
        return row

    def sender_facts(self, number_id: UUID) -> SenderFacts | None:
        """What assigning the number to a campaign's channel depends on, the number locked."""
        row = self._conn.execute(
            "SELECT p.id, p.e164, p.status, p.whatsapp_enabled, a.provider FROM phone_numbers p"
            " JOIN provider_accounts a ON a.id = p.provider_account_id WHERE p.id = %s"
            " FOR UPDATE OF p",
            (number_id,),
        ).fetchone()
        return SenderFacts(**row) if row else None

    def lock_pool(self, tenant_id: UUID, pool: str) -> None:
        """Serialise staging within one pool: whether a number is free depends on other
        campaigns' assignments, which row locks on the number alone cannot see."""
        self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"stage:{tenant_id}:{pool}",)
        )

    def free_numbers(
        self, tenant_id: UUID, pool: str, count: int, now: datetime
    ) -> list[tuple[UUID, str]]:
        """Active, rested numbers of the pool that no live campaign sends from: (id,
        E.164) pairs, least used first."""
        rows = self._conn.execute(
            "SELECT p.id, p.e164 FROM phone_numbers p"
            " WHERE p.tenant_id = %s AND p.pool = %s AND p.status = 'active'"
            " AND (p.cooldown_until IS NULL OR p.cooldown_until <= %s)"
            " AND NOT EXISTS (SELECT 1 FROM campaign_phone_assignments a"
            "   JOIN campaigns c ON c.id = a.campaign_id"
            "   WHERE a.phone_number_id = p.id AND c.status IN ('staged', 'active', 'paused'))"
            " ORDER BY p.sent_count, p.e164 LIMIT %s FOR UPDATE OF p SKIP LOCKED",
            (tenant_id, pool, now, count),
        ).fetchall()
        return [(row["id"], row["e164"]) for row in rows]

    def assign(
        self, tenant_id: UUID, campaign_id: UUID, numbers: Sequence[tuple[UUID, str]]
    ) -> None:
        """The campaign's numbers, the first its primary."""
        for index, (number_id, e164) in enumerate(numbers):
            self._conn.execute(
                "INSERT INTO campaign_phone_assignments"
                " (tenant_id, campaign_id, phone_number_id, phone_number, is_primary)"
                " VALUES (%s, %s, %s, %s, %s)",
                (tenant_id, campaign_id, number_id, e164, index == 0),
            )

    def binding(
        self, lead_id: UUID, campaign_id: UUID, channel: str = "sms"
    ) -> SenderBinding | None:
        """The lead's sticky sender in the campaign on `channel`."""
        row = self._conn.execute(
            "SELECT b.lead_id, b.campaign_id, b.campaign_phone_assignment_id, b.phone_number_id,"
            " b.phone_number, p.status, b.channel, a.provider FROM lead_sender_bindings b"
            " JOIN phone_numbers p ON p.id = b.phone_number_id"
            " JOIN provider_accounts a ON a.id = p.provider_account_id"
            " WHERE b.lead_id = %s AND b.campaign_id = %s AND b.channel = %s",
            (lead_id, campaign_id, channel),
        ).fetchone()
        return _binding(row) if row else None

    def bindings_for(
        self, pairs: Sequence[tuple[UUID, UUID]], channel: str = "sms"
    ) -> dict[tuple[UUID, UUID], SenderBinding]:
        """The bindings on `channel` of many (lead, campaign) pairs in one statement."""
        if not pairs:
            return {}
        rows = self._conn.execute(
            "SELECT b.lead_id, b.campaign_id, b.campaign_phone_assignment_id, b.phone_number_id,"
            " b.phone_number, p.status, b.channel, a.provider"
            " FROM unnest(%b::uuid[], %b::uuid[]) AS v(lead_id, campaign_id)"
            " JOIN lead_sender_bindings b ON b.lead_id = v.lead_id AND b.campaign_id = v.campaign_id"
            "  AND b.channel = %b::text"
            " JOIN phone_numbers p ON p.id = b.phone_number_id"
            " JOIN provider_accounts a ON a.id = p.provider_account_id",
            ([lead for lead, _ in pairs], [campaign for _, campaign in pairs], channel),
        ).fetchall()
        return {(row["lead_id"], row["campaign_id"]): _binding(row) for row in rows}

    def bind_many(
        self, bindings: Sequence[tuple[UUID, UUID, UUID, SenderCandidate]], channel: str = "sms"
    ) -> None:
        """Bind many (tenant, lead, campaign, sender) on `channel` at once (each sender one
        of the campaign's assignments on it); a binding made meanwhile by a concurrent
        first send wins, as in `bind`."""
        if not bindings:
            return
        self._conn.execute(
            "INSERT INTO lead_sender_bindings (tenant_id, lead_id, campaign_id,"
            " campaign_phone_assignment_id, phone_number_id, phone_number, channel)"
            " SELECT *, %b::text FROM unnest(%b::uuid[], %b::uuid[], %b::uuid[], %b::uuid[], %b::uuid[],"
            " %b::text[])"
            " ON CONFLICT (lead_id, campaign_id, channel) DO NOTHING",
            (
                channel,
                [tenant for tenant, _, _, _ in bindings],
                [lead for _, lead, _, _ in bindings],
                [campaign for _, _, campaign, _ in bindings],
                [sender.assignment_id for *_, sender in bindings],
                [sender.phone_number_id for *_, sender in bindings],
                [sender.phone_number for *_, sender in bindings],
            ),
        )

    def sender_candidates_of(
        self, campaign_ids: Iterable[UUID], now: datetime, channel: str = "sms"
    ) -> dict[UUID, list[SenderCandidate]]:
        """`sender_candidates` of many campaigns on `channel` in one statement, by campaign."""
        rows = self._conn.execute(
            "SELECT a.campaign_id, a.id, a.phone_number_id, a.phone_number,"
            " (SELECT count(*) FROM lead_sender_bindings b WHERE b.campaign_phone_assignment_id = a.id) AS load"
            " FROM campaign_phone_assignments a JOIN phone_numbers p ON p.id = a.phone_number_id"
            " WHERE a.campaign_id = ANY(%s) AND a.channel = %s AND p.status = 'active'"
            " AND (p.cooldown_until IS NULL OR p.cooldown_until <= %s)",
            (list(set(campaign_ids)), channel, now),
        ).fetchall()
        found: dict[UUID, list[SenderCandidate]] = {}
        for r in rows:
            found.setdefault(r["campaign_id"], []).append(
                SenderCandidate(r["id"], r["phone_number_id"], r["phone_number"], r["load"])
            )
        return found

    def sender_candidates(
        self,
        campaign_id: UUID,
        now: datetime,
        exclude_number: UUID | None = None,
        channel: str = "sms",
    ) -> list[SenderCandidate]:
        """The campaign's numbers on `channel` that may take a new lead, with how many
        leads each holds."""
        rows = self._conn.execute(
            "SELECT a.id, a.phone_number_id, a.phone_number,"
            " (SELECT count(*) FROM lead_sender_bindings b WHERE b.campaign_phone_assignment_id = a.id) AS load"
            " FROM campaign_phone_assignments a JOIN phone_numbers p ON p.id = a.phone_number_id"
            " WHERE a.campaign_id = %s AND a.channel = %s AND p.status = 'active'"
            " AND (p.cooldown_until IS NULL OR p.cooldown_until <= %s)"
            " AND a.phone_number_id IS DISTINCT FROM %s",
            (campaign_id, channel, now, exclude_number),
        ).fetchall()
        return [
            SenderCandidate(r["id"], r["phone_number_id"], r["phone_number"], r["load"])
            for r in rows
        ]

    def rehome(
        self,
        lead_id: UUID,
        campaign_id: UUID,
        sender: SenderCandidate,
        event_id: UUID,
        at: datetime,
        channel: str = "sms",
    ) -> None:
        self._conn.execute(
            "UPDATE lead_sender_bindings SET campaign_phone_assignment_id = %s, phone_number_id = %s,"
            " phone_number = %s, rehome_event_id = %s, bound_at = %s"
            " WHERE lead_id = %s AND campaign_id = %s AND channel = %s",
            (
                sender.assignment_id,
                sender.phone_number_id,
                sender.phone_number,
                event_id,
                at,
                lead_id,
                campaign_id,
                channel,
            ),
        )

    def bound_to_number(self, number_id: UUID) -> list[tuple[UUID, UUID]]:
        """The (lead, campaign) pairs that text from this number."""
        rows = self._conn.execute(
            "SELECT DISTINCT lead_id, campaign_id FROM lead_sender_bindings WHERE phone_number_id = %s"
            " ORDER BY campaign_id, lead_id",
            (number_id,),
        ).fetchall()
        return [(row["lead_id"], row["campaign_id"]) for row in rows]


def _binding(row: dict[str, Any]) -> SenderBinding:
    return SenderBinding(
        row["lead_id"],
        row["campaign_id"],
        row["campaign_phone_assignment_id"],
        row["phone_number_id"],
        row["phone_number"],
        row["status"],
        row.get("channel", "sms"),
        row.get("provider", ""),
    )
