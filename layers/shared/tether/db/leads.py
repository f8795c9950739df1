"""The lead aggregate's SQL: leads (their state, contact details, imports, matching a
reply to one, the views the API shows) and their append-only events. Nothing else
writes these tables (the timers' set-based moves aside: tether.db.timers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.lead_import import PreparedLead
from tether.domain.lead_state import LeadState
from tether.domain.model import Lead
from tether.domain.pagination import Position

LEAD_COLUMNS = (
    "id, campaign_id, phone, first_name, last_name, email, company, timezone, state::text AS state,"
    " state_changed_at, assigned_phone_number_id, last_message_at, attributes, created_at, updated_at,"
    # the lead's own reply address: the tenant's mailbox tagged with the lead's token
    # (tether.domain.email.reply_address; migration 0037), null while it has no mailbox
    " (SELECT split_part(t.reply_mailbox, '@', 1) || '+' || leads.reply_token || '@'"
    "  || split_part(t.reply_mailbox, '@', 2) FROM tenant_config t"
    "  WHERE t.tenant_id = leads.tenant_id) AS reply_address"
)

# What PATCH /v1/leads/{id} may change besides custom fields (services.lead_details).
EDITABLE_DETAILS = ("first_name", "last_name", "email", "company", "timezone")

# match_inbound() is the SQL function of migration 0039 (a function, so each connection
# plans it once: planning the statement on every call cost more than running it).
_MATCH = "SELECT * FROM match_inbound(%(tenant)s, %(to)s, %(from)s, %(channel)s)"


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


@dataclass(frozen=True, slots=True)
class ImportCounts:
    inserted: int
    merged: int


@dataclass(frozen=True, slots=True)
class LeadPool:
    pool: str | None  # None: the lead has no campaign


class LeadRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add(self, tenant_id: UUID, phone: str, campaign_id: UUID | None = None) -> Lead:
        row = self._conn.execute(
            "INSERT INTO leads (tenant_id, campaign_id, phone) VALUES (%s, %s, %s) "
            "RETURNING id, tenant_id, campaign_id, phone, state, email",
            (tenant_id, campaign_id, phone),
        ).fetchone()
        assert row is not None
        return _lead(row)

    def get(self, lead_id: UUID, *, for_update: bool = False) -> Lead | None:
        """The lead, or None. `for_update` serialises writers of this lead; it takes the
        weaker NO KEY UPDATE lock, which does not block foreign-key checks of rows that
        reference the lead (its events), so those never wait on it."""
        lock = " FOR NO KEY UPDATE" if for_update else ""
        row = self._conn.execute(
            "SELECT id, tenant_id, campaign_id, phone, state, email FROM leads WHERE id = %s"
            + lock,
            (lead_id,),
        ).fetchone()
        return _lead(row) if row else None

    def set_state(self, lead_id: UUID, expected: LeadState, target: LeadState) -> bool:
        """Move the lead if it is still in `expected`. False if it was not."""
        cursor = self._conn.execute(
            "UPDATE leads SET state = %s WHERE id = %s AND state = %s",
            (target.value, lead_id, expected.value),
        )
        return cursor.rowcount == 1

    def suppressed_before(self, tenant_id: UUID, phone: str, before: datetime) -> list[Lead]:
        """The tenant's suppressed leads of `phone` that were suppressed before `before`,
        locked (a consent given at `before` may free them)."""
        rows = self._conn.execute(
            "SELECT id, tenant_id, campaign_id, phone, state, email FROM leads"
            " WHERE tenant_id = %s AND phone = %s AND state = 'suppressed' AND state_changed_at < %s"
            " ORDER BY id FOR NO KEY UPDATE",
            (tenant_id, phone, before),
        ).fetchall()
        return [_lead(row) for row in rows]

    def resubscribe_proven(self, lead: Lead, cause: dict[str, str]) -> bool:
        """Whether the database would let `cause` free this suppressed lead (the proof
        of migration 0027, asked before the move so a doubt frees nothing)."""
        row = self._conn.execute(
            "SELECT resubscribe_proven(tenant_id, phone, state_changed_at, %s, id) AS proven"
            " FROM leads WHERE id = %s AND state = 'suppressed'",
            (Jsonb(cause), lead.id),
        ).fetchone()
        return bool(row and row["proven"])

    def set_email(self, lead_id: UUID, email: str) -> None:
        self._conn.execute("UPDATE leads SET email = %s WHERE id = %s", (email, lead_id))

    def update_details(
        self,
        lead_id: UUID,
        changes: Mapping[str, str | None],
        custom_fields: Mapping[str, str | None],
    ) -> bool:
        """Change the lead's own fields given (of EDITABLE_DETAILS) and merge
        `custom_fields` into its custom fields (a None removes one). False when there is
        no such lead."""
        unknown = set(changes) - set(EDITABLE_DETAILS)
        assert not unknown, unknown  # the service passes only these
        assignments: list[sql.Composable] = [
            sql.SQL("{} = %s").format(sql.Identifier(name)) for name in changes
        ]
        assignments.append(sql.SQL("attributes = (attributes || %s::jsonb) - %s::text[]"))
        kept = {name: value for name, value in custom_fields.items() if value is not None}
        removed = [name for name, value in custom_fields.items() if value is None]
        cursor = self._conn.execute(
            sql.SQL("UPDATE leads SET {} WHERE id = %s").format(sql.SQL(", ").join(assignments)),
            (*changes.values(), Jsonb(kept), removed, lead_id),
        )
        return cursor.rowcount == 1

    def note_message(self, lead_id: UUID, at: datetime) -> None:
        """The lead was last messaged at `at` (never moved back)."""
        self._conn.execute(
            "UPDATE leads SET last_message_at = greatest(last_message_at, %s) WHERE id = %s",
            (at, lead_id),
        )

    def import_rows(
        self, tenant_id: UUID, campaign_id: UUID, leads: Sequence[PreparedLead]
    ) -> ImportCounts:
        """Store the rows in one statement: a phone the campaign has already is merged
        into that lead (its empty fields filled, attributes added), the rest inserted.
        The caller holds the campaign's lock, so two imports do not both insert a phone."""
        row = self._conn.execute(
            "WITH input AS ("
            "  SELECT * FROM unnest(%(phones)s::text[], %(first)s::text[], %(last)s::text[],"
            "    %(emails)s::text[], %(zones)s::text[], %(attrs)s::jsonb[], %(companies)s::text[])"
            "    AS i(phone, first_name, last_name, email, timezone, attributes, company)"
            "), merged AS ("
            "  UPDATE leads l SET first_name = coalesce(l.first_name, i.first_name),"
            "    last_name = coalesce(l.last_name, i.last_name), email = coalesce(l.email, i.email),"
            "    timezone = coalesce(l.timezone, i.timezone), attributes = i.attributes || l.attributes,"
            "    company = coalesce(l.company, i.company)"
            "  FROM input i WHERE l.campaign_id = %(campaign)s AND l.phone = i.phone"
            "  RETURNING l.phone"
            "), inserted AS ("
            "  INSERT INTO leads (tenant_id, campaign_id, phone, first_name, last_name, email, timezone,"
            "    attributes, company)"
            "  SELECT %(tenant)s, %(campaign)s, i.phone, i.first_name, i.last_name, i.email, i.timezone,"
            "    i.attributes, i.company"
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
                "companies": [lead.company for lead in leads],
            },
        ).fetchone()
        assert row is not None
        return ImportCounts(row["inserted"], row["merged"])

    def match(
        self, tenant_id: UUID, to_number: str, from_number: str, channel: str = "sms"
    ) -> InboundMatch:
        """Match normalised (E.164) numbers on a sender channel ('sms', 'whatsapp'): the
        receiving number to its assignment for that channel, the sender to its lead:
        first the lead this number texted on it, then the lead in the number's campaign,
        then the tenant's lead most recently messaged."""
        row = self._conn.execute(
            _MATCH, {"tenant": tenant_id, "to": to_number, "from": from_number, "channel": channel}
        ).fetchone()
        assert row is not None
        return InboundMatch(
            row["number_id"],
            row["assignment_id"],
            row["campaign_id"],
            row["lead_id"],
            row["matched_by"],
        )

    def pool_of(self, lead_id: UUID) -> LeadPool | None:
        """The lead's campaign's pool (None inside when it has no campaign); None when
        there is no such lead."""
        row = self._conn.execute(
            "SELECT c.pool FROM leads l LEFT JOIN campaigns c ON c.id = l.campaign_id"
            " WHERE l.id = %s",
            (lead_id,),
        ).fetchone()
        return LeadPool(row["pool"]) if row else None

    # Views for the API: rows serialised as they are.

    def view(self, lead_id: UUID) -> dict[str, Any] | None:
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

    def trace_bindings(self, lead_id: UUID) -> list[dict[str, Any]]:
        """Each campaign that texts the lead, with the assignment and number bound to it."""
        return self._conn.execute(
            "SELECT c.id AS campaign_id, c.name AS campaign_name, c.status AS campaign_status,"
            " b.campaign_phone_assignment_id AS assignment_id, b.phone_number_id, b.phone_number,"
            " a.is_primary, b.bound_at, b.rehome_event_id, b.channel"
            " FROM lead_sender_bindings b"
            " JOIN campaigns c ON c.id = b.campaign_id"
            " JOIN campaign_phone_assignments a ON a.id = b.campaign_phone_assignment_id"
            " WHERE b.lead_id = %s ORDER BY b.bound_at, b.channel",
            (lead_id,),
        ).fetchall()

    def trace_messages(self, tenant_id: UUID, lead_id: UUID, limit: int) -> list[dict[str, Any]]:
        """The lead's messages, oldest first, each with its number and status history
        (by status rank and occurrence time, each with the order it was received in)."""
        return self._conn.execute(
            "SELECT m.id, m.direction, m.campaign_id, m.campaign_phone_assignment_id AS assignment_id,"
            " m.outbound_number_id AS phone_number_id, m.from_address, m.to_address, m.body,"
            " m.status, m.provider, m.external_id, m.send_key, m.error_code, m.error_reason,"
            " m.created_at, m.sent_at, m.delivered_at, m.received_at, m.channel, m.our_address,"
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


class LeadEventRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def append(
        self,
        lead: Lead,
        event_type: str,
        dedupe_key: str,
        *,
        previous_state: LeadState | None = None,
        new_state: LeadState | None = None,
        payload: dict[str, Any] | None = None,
    ) -> UUID | None:
        """Record an event once per `dedupe_key`: its id, or None when already recorded."""
        row = self._conn.execute(
            "INSERT INTO lead_events"
            " (tenant_id, lead_id, event_type, previous_state, new_state, payload, dedupe_key)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            (
                lead.tenant_id,
                lead.id,
                event_type,
                previous_state.value if previous_state else None,
                new_state.value if new_state else None,
                Jsonb(payload or {}),
                dedupe_key,
            ),
        ).fetchone()
        return row["id"] if row else None

    def for_lead(self, lead_id: UUID) -> list[dict[str, Any]]:
        return self._conn.execute(
            "SELECT event_type, previous_state, new_state, payload, dedupe_key, occurred_at"
            " FROM lead_events WHERE lead_id = %s ORDER BY seq",
            (lead_id,),
        ).fetchall()

    def page_for_lead(self, tenant_id: UUID, lead_id: UUID, limit: int) -> list[dict[str, Any]]:
        return self._conn.execute(
            "SELECT id, event_type, previous_state::text AS previous_state,"
            " new_state::text AS new_state, payload, occurred_at"
            " FROM lead_events WHERE tenant_id = %s AND lead_id = %s ORDER BY seq LIMIT %s",
            (tenant_id, lead_id, limit),
        ).fetchall()


def _lead(row: dict[str, Any]) -> Lead:
    return Lead(
        row["id"],
        row["tenant_id"],
        row["campaign_id"],
        row["phone"],
        LeadState(row["state"]),
        row["email"],
    )
