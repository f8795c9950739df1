"""SQL of leads as the API shows them: import, detail, and the trace of seed 000."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tether.db.errors import translated_errors
from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.lead_import import PreparedLead
from tether.domain.pagination import Position

LEAD_COLUMNS = (
    "id, campaign_id, phone, first_name, last_name, email, timezone, state::text AS state,"
    " state_changed_at, assigned_phone_number_id, last_message_at, attributes, created_at, updated_at"
)


class LeadRecordRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def import_rows(
        self, tenant_id: UUID, campaign_id: UUID, leads: Sequence[PreparedLead]
    ) -> dict[str, int]:
        """Store the rows in one statement: a phone the campaign has already is merged
        into that lead (its empty fields filled, attributes added), the rest inserted.
        The caller holds the campaign's lock, so two imports do not both insert a phone."""
        with translated_errors():
            row = self._conn.execute(
                "WITH input AS ("
                "  SELECT * FROM unnest(%(phones)s::text[], %(first)s::text[], %(last)s::text[],"
                "    %(emails)s::text[], %(zones)s::text[], %(attrs)s::jsonb[])"
                "    AS i(phone, first_name, last_name, email, timezone, attributes)"
                "), merged AS ("
                "  UPDATE leads l SET first_name = coalesce(l.first_name, i.first_name),"
                "    last_name = coalesce(l.last_name, i.last_name), email = coalesce(l.email, i.email),"
                "    timezone = coalesce(l.timezone, i.timezone), attributes = i.attributes || l.attributes"
                "  FROM input i WHERE l.campaign_id = %(campaign)s AND l.phone = i.phone"
                "  RETURNING l.phone"
                "), inserted AS ("
                "  INSERT INTO leads (tenant_id, campaign_id, phone, first_name, last_name, email, timezone, attributes)"
                "  SELECT %(tenant)s, %(campaign)s, i.phone, i.first_name, i.last_name, i.email, i.timezone, i.attributes"
                "  FROM input i WHERE NOT EXISTS"
                "    (SELECT 1 FROM leads l WHERE l.campaign_id = %(campaign)s AND l.phone = i.phone)"
                "  RETURNING phone"
                ") SELECT (SELECT count(DISTINCT phone) FROM merged) AS merged,"
                " (SELECT count(*) FROM inserted) AS inserted",
                {
                    "tenant": tenant_id,
                    "campaign": campaign_id,
                    "phones": [lead.phone for lead in leads],
                    "first": [lead.first_name for lead in leads],
                    "last": [lead.last_name for lead in leads],
                    "emails": [lead.email for lead in leads],
                    "zones": [lead.timezone for lead in leads],
                    "attrs": [Jsonb(lead.attributes) for lead in leads],
                },
            ).fetchone()
        assert row is not None
        return {"merged": row["merged"], "inserted": row["inserted"]}

    def get(self, lead_id: UUID) -> dict[str, Any] | None:
        return self._conn.execute(
            f"SELECT {LEAD_COLUMNS} FROM leads WHERE id = %s", (lead_id,)
        ).fetchone()

    def page(
        self,
        after: Position | None,
        limit: int,
        *,
        campaign_id: UUID | None,
        phone: str | None,
        state: str | None,
    ) -> list[dict[str, Any]]:
        """The tenant's leads, newest first, by campaign, exact phone or state."""
        condition, order = newest_first()
        return self._conn.execute(
            f"SELECT {LEAD_COLUMNS} FROM leads WHERE {condition}"
            " AND (%(campaign)s::uuid IS NULL OR campaign_id = %(campaign)s)"
            " AND (%(phone)s::text IS NULL OR phone = %(phone)s)"
            " AND (%(state)s::lead_state IS NULL OR state = %(state)s::lead_state)"
            f" {order}",
            after_position(after, limit, campaign=campaign_id, phone=phone, state=state),
        ).fetchall()

    def campaign_pool(self, lead_id: UUID) -> dict[str, Any] | None:
        """The lead and its campaign's pool (NULL when it has no campaign)."""
        return self._conn.execute(
            "SELECT l.id, c.pool FROM leads l LEFT JOIN campaigns c ON c.id = l.campaign_id"
            " WHERE l.id = %s",
            (lead_id,),
        ).fetchone()


class TraceRepository:
    """Seed 000's traceability chain of one lead, read in three statements."""

    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def bindings(self, lead_id: UUID) -> list[dict[str, Any]]:
        """Each campaign that texts the lead, with the assignment and number bound to it."""
        return self._conn.execute(
            "SELECT c.id AS campaign_id, c.name AS campaign_name, c.status AS campaign_status,"
            " b.campaign_phone_assignment_id AS assignment_id, b.phone_number_id, b.phone_number,"
            " a.is_primary, b.bound_at, b.rehome_event_id"
            " FROM lead_sender_bindings b"
            " JOIN campaigns c ON c.id = b.campaign_id"
            " JOIN campaign_phone_assignments a ON a.id = b.campaign_phone_assignment_id"
            " WHERE b.lead_id = %s ORDER BY b.bound_at",
            (lead_id,),
        ).fetchall()

    def messages(self, tenant_id: UUID, lead_id: UUID, limit: int) -> list[dict[str, Any]]:
        """The lead's messages, oldest first, each with its number and status history
        (by status rank and occurrence time, each with the order it was received in)."""
        return self._conn.execute(
            "SELECT m.id, m.direction, m.campaign_id, m.campaign_phone_assignment_id AS assignment_id,"
            " m.outbound_number_id AS phone_number_id, m.from_address, m.to_address, m.body,"
            " m.status, m.provider, m.external_id, m.send_key, m.error_code, m.error_reason,"
            " m.created_at, m.sent_at, m.delivered_at, m.received_at,"
            # statuses in the order they happened (rank, then the provider's time); the
            # order they arrived in, which the queue does not keep, is each one's field
            " coalesce((SELECT jsonb_agg(jsonb_build_object('status', h.status,"
            "   'occurred_at', h.occurred_at, 'error_code', h.error_code, 'applied', h.applied,"
            "   'received_order', h.received_order, 'received_at', h.created_at)"
            "   ORDER BY h.rank, h.occurred_at, h.received_order)"
            "   FROM (SELECT e.status, e.occurred_at, e.error_code, e.created_at, s.rank,"
            "     e.applied_at IS NOT NULL AS applied,"
            "     row_number() OVER (ORDER BY e.arrival_seq) AS received_order"
            "     FROM message_status_events e JOIN message_statuses s ON s.status = e.status"
            "     WHERE e.message_id = m.id) h), '[]'::jsonb) AS status_history"
            " FROM messages m WHERE m.tenant_id = %s AND m.lead_id = %s"
            " ORDER BY m.created_at, m.id LIMIT %s",
            (tenant_id, lead_id, limit),
        ).fetchall()

    def events(self, tenant_id: UUID, lead_id: UUID, limit: int) -> list[dict[str, Any]]:
        return self._conn.execute(
            "SELECT id, event_type, previous_state::text AS previous_state,"
            " new_state::text AS new_state, payload, occurred_at"
            " FROM lead_events WHERE tenant_id = %s AND lead_id = %s ORDER BY seq LIMIT %s",
            (tenant_id, lead_id, limit),
        ).fetchall()
