"""The SQL of call outcomes (migration 0038): which lead and lease a reported call
belongs to, and the record of each call, written once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.leases import CallOutcome
from tether.domain.pagination import Position


@dataclass(frozen=True, slots=True)
class HeldLease:
    phone_number_id: UUID
    phone_number: str
    pool: str
    assigned_at: datetime


@dataclass(frozen=True, slots=True)
class NewCallOutcome:
    tenant_id: UUID
    receipt_id: UUID
    provider: str
    call_id: str
    carrier_call_id: str | None
    outcome: CallOutcome
    provider_status: str
    our_address: str | None
    appointment_at: datetime | None
    occurred_at: datetime
    state: str  # applied, lease_released, superseded, unmatched
    lead_id: UUID | None = None
    phone_number_id: UUID | None = None
    lease_assigned_at: datetime | None = None
    reason: str | None = None
    release_at: datetime | None = None


class CallOutcomeRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def recorded(
        self, tenant_id: UUID, provider: str, call_id: str, carrier_call_id: str | None
    ) -> bool:
        """Whether the call is recorded: by its provider's id, or as the same call
        another report named by the carrier's id."""
        ids = [call_id, *([carrier_call_id] if carrier_call_id else [])]
        return (
            self._conn.execute(
                "SELECT 1 FROM call_outcomes WHERE tenant_id = %(tenant)s"
                " AND ((provider = %(provider)s AND call_id = %(call)s)"
                "   OR call_id = ANY(%(ids)s) OR carrier_call_id = ANY(%(ids)s)) LIMIT 1",
                {"tenant": tenant_id, "provider": provider, "call": call_id, "ids": ids},
            ).fetchone()
            is not None
        )

    def holder_of(self, tenant_id: UUID, number: str) -> UUID | None:
        """The lead the tenant's number is leased to now, if any."""
        row = self._conn.execute(
            "SELECT currently_assigned_to FROM phone_numbers WHERE tenant_id = %s AND e164 = %s",
            (tenant_id, number),
        ).fetchone()
        return row["currently_assigned_to"] if row else None

    def lead_by_phone(self, tenant_id: UUID, phone: str, number: str | None) -> UUID | None:
        """The tenant's lead with this (E.164) phone: the one holding `number` first,
        then one holding any lease, then the most recently messaged. Exact matches only."""
        row = self._conn.execute(
            "SELECT l.id FROM leads l"
            " WHERE l.tenant_id = %(tenant)s AND l.phone = %(phone)s"
            " ORDER BY EXISTS (SELECT 1 FROM phone_numbers p WHERE p.currently_assigned_to = l.id"
            "   AND p.e164 = %(number)s) DESC,"
            " EXISTS (SELECT 1 FROM phone_numbers p WHERE p.currently_assigned_to = l.id) DESC,"
            " l.last_message_at DESC NULLS LAST, l.created_at DESC, l.id LIMIT 1",
            {"tenant": tenant_id, "phone": phone, "number": number},
        ).fetchone()
        return row["id"] if row else None

    def held_leases(self, lead_id: UUID) -> list[HeldLease]:
        """The lead's leases, locked (the lead's lock is taken first, as leases do)."""
        rows = self._conn.execute(
            "SELECT id, e164, pool, assigned_at FROM phone_numbers"
            " WHERE currently_assigned_to = %s ORDER BY assigned_at, id FOR UPDATE",
            (lead_id,),
        ).fetchall()
        return [HeldLease(r["id"], r["e164"], r["pool"], r["assigned_at"]) for r in rows]

    def latest_applied(self, number_id: UUID, lease_assigned_at: datetime) -> datetime | None:
        """When the latest call applied to this lease happened."""
        row = self._conn.execute(
            "SELECT max(occurred_at) AS at FROM call_outcomes WHERE phone_number_id = %s"
            " AND lease_assigned_at = %s AND state = 'applied'",
            (number_id, lease_assigned_at),
        ).fetchone()
        return row["at"] if row else None

    def add(self, record: NewCallOutcome) -> UUID:
        """Record the call. A second record of it (a concurrent report) is a Conflict:
        the transaction rolls back and its retry finds the call recorded."""
        row = self._conn.execute(
            "INSERT INTO call_outcomes (tenant_id, receipt_id, provider, call_id, carrier_call_id,"
            " outcome, provider_status, our_address, appointment_at, occurred_at, state, lead_id,"
            " phone_number_id, lease_assigned_at, reason, release_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                record.tenant_id,
                record.receipt_id,
                record.provider,
                record.call_id,
                record.carrier_call_id,
                record.outcome.value,
                record.provider_status,
                record.our_address,
                record.appointment_at,
                record.occurred_at,
                record.state,
                record.lead_id,
                record.phone_number_id,
                record.lease_assigned_at,
                record.reason,
                record.release_at,
            ),
        ).fetchone()
        assert row is not None
        call_outcome_id: UUID = row["id"]
        return call_outcome_id

    def page(self, after: Position | None, limit: int, state: str | None) -> list[dict[str, Any]]:
        """Recorded calls, newest first (of one state), with the customer's number the
        report named (from its receipt)."""
        condition, order = newest_first("c.created_at", "c.id")
        return self._conn.execute(
            "SELECT c.id, c.provider, c.call_id, c.outcome, c.provider_status, c.our_address,"
            " r.event->>'customer_address' AS customer_address, c.appointment_at, c.occurred_at,"
            " c.state, c.reason, c.lead_id, c.phone_number_id, c.release_at, c.receipt_id,"
            " c.created_at FROM call_outcomes c LEFT JOIN webhook_receipts r ON r.id = c.receipt_id"
            f" WHERE {condition} AND (%(state)s::text IS NULL OR c.state = %(state)s) {order}",
            after_position(after, limit, state=state),
        ).fetchall()
