"""The statements of an erasure (tether.services.erasure): each clears the person from one
kind of record, under the tenant's row-level security, and says how many rows it changed.
What is kept (the hard-rule binding: a message's addresses, number and assignment, the
thread's addresses, the lead's number, state and counts) is documented in the README."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from tether.db.session import Session
from tether.domain.erasure import ErasedPerson

ERASED = "[erased]"


class ErasureRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def person(self, tenant_id: UUID, phone: str) -> ErasedPerson:
        """The tenant's leads with this number, locked, and what identifies them."""
        rows = self._conn.execute(
            "SELECT id, first_name, last_name, email FROM leads"
            " WHERE tenant_id = %s AND phone = %s ORDER BY id FOR NO KEY UPDATE",
            (tenant_id, phone),
        ).fetchall()
        return ErasedPerson(
            [row["id"] for row in rows],
            [name for row in rows for name in (row["first_name"], row["last_name"])],
            [row["email"] for row in rows],
        )

    def leads(self, lead_ids: list[UUID], at: datetime) -> int:
        cursor = self._conn.execute(
            "UPDATE leads SET first_name = NULL, last_name = NULL, email = NULL,"
            " attributes = '{}', erased_at = %s"
            " WHERE id = ANY(%s) AND (erased_at IS NULL OR first_name IS NOT NULL"
            " OR last_name IS NOT NULL OR email IS NOT NULL OR attributes <> '{}')",
            (at, lead_ids),
        )
        return cursor.rowcount

    def messages(self, tenant_id: UUID, phone: str, lead_ids: list[UUID], at: datetime) -> int:
        """The texts both ways (migration 0023's one sanctioned change: body to '', once).
        A send not yet handed to a provider keeps its text until it has left."""
        cursor = self._conn.execute(
            "UPDATE messages SET body = '', media_urls = '{}', template_variables = NULL,"
            " subject = NULL, erased_at = %(at)s"
            " WHERE tenant_id = %(tenant)s AND erased_at IS NULL"
            " AND (CASE direction WHEN 'inbound' THEN from_address ELSE to_address END = %(phone)s"
            "      OR lead_id = ANY(%(leads)s))"
            " AND (direction = 'inbound' OR sent_at IS NOT NULL"
            "      OR status IN (SELECT status FROM message_statuses WHERE terminal))",
            {"at": at, "tenant": tenant_id, "phone": phone, "leads": lead_ids},
        )
        return cursor.rowcount

    def consents(self, tenant_id: UUID, phone: str, lead_ids: list[UUID], at: datetime) -> int:
        """The consent log keeps each grant and revocation, its source and time, and a
        hash of the number; the number, IP, user agent, disclosure and evidence go
        (migration 0029's one sanctioned change)."""
        cursor = self._conn.execute(
            "UPDATE consents SET phone = NULL, ip = NULL, user_agent = NULL,"
            " disclosure_text = NULL, evidence_ref = NULL, erased_at = %(at)s"
            " WHERE tenant_id = %(tenant)s AND erased_at IS NULL"
            " AND (phone = %(phone)s OR lead_id = ANY(%(leads)s))",
            {"at": at, "tenant": tenant_id, "phone": phone, "leads": lead_ids},
        )
        return cursor.rowcount

    def notifications(self, tenant_id: UUID, phone: str, lead_ids: list[UUID]) -> int:
        cursor = self._conn.execute(
            "UPDATE notifications SET title = %s, body = NULL"
            " WHERE tenant_id = %s AND (lead_id = ANY(%s) OR strpos(title, %s) > 0"
            "  OR message_id IN (SELECT id FROM messages WHERE tenant_id = %s"
            "                     AND direction = 'inbound' AND from_address = %s))"
            " AND (title <> %s OR body IS NOT NULL)",
            (ERASED, tenant_id, lead_ids, phone, tenant_id, phone, ERASED),
        )
        return cursor.rowcount

    def insights(self, tenant_id: UUID, phone: str, lead_ids: list[UUID]) -> int:
        cursor = self._conn.execute(
            "UPDATE thread_insights SET summary = NULL"
            " WHERE tenant_id = %s AND summary IS NOT NULL AND thread_id IN ("
            "  SELECT id FROM threads WHERE tenant_id = %s"
            "   AND (their_address = %s OR lead_id = ANY(%s)))",
            (tenant_id, tenant_id, phone, lead_ids),
        )
        return cursor.rowcount

    def receipts(self, tenant_id: UUID, phone: str, at: datetime) -> int:
        """The raw requests that name the number (its digits survive URL-encoding), and
        the status callbacks of the texts to it; redacted whole, keys kept (0028)."""
        cursor = self._conn.execute(
            "UPDATE webhook_receipts SET raw_body = '', raw_bytes = '', headers = '{}',"
            " event = NULL, last_error = NULL, redacted_at = %(at)s"
            " WHERE tenant_id = %(tenant)s AND redacted_at IS NULL"
            " AND (strpos(raw_body, %(digits)s) > 0 OR strpos(event::text, %(digits)s) > 0"
            "      OR external_id IN (SELECT external_id FROM messages"
            "                          WHERE tenant_id = %(tenant)s AND external_id IS NOT NULL"
            "                            AND %(phone)s IN (from_address, to_address)))",
            {"at": at, "tenant": tenant_id, "digits": phone.lstrip("+"), "phone": phone},
        )
        return cursor.rowcount

    def lead_events(self, lead_ids: list[UUID], needles: list[str], at: datetime) -> int:
        cursor = self._conn.execute(
            "UPDATE lead_events SET payload = redact_values(payload, %(needles)s),"
            " redacted_at = %(at)s"
            " WHERE lead_id = ANY(%(leads)s) AND redacted_at IS NULL"
            " AND redact_values(payload, %(needles)s) <> payload",
            {"needles": needles, "at": at, "leads": lead_ids},
        )
        return cursor.rowcount

    def audit(self, tenant_id: UUID, needles: list[str], at: datetime) -> int:
        cursor = self._conn.execute(
            "UPDATE audit_log SET detail = redact_values(detail, %(needles)s),"
            " redacted_at = %(at)s"
            " WHERE tenant_id = %(tenant)s AND redacted_at IS NULL"
            " AND redact_values(detail, %(needles)s) <> detail",
            {"needles": needles, "at": at, "tenant": tenant_id},
        )
        return cursor.rowcount

    def timers(self, lead_ids: list[UUID], needles: list[str]) -> int:
        cursor = self._conn.execute(
            "UPDATE lead_timers SET payload = redact_values(payload, %(needles)s),"
            " last_error = NULL"
            " WHERE lead_id = ANY(%(leads)s)"
            " AND (redact_values(payload, %(needles)s) <> payload OR last_error IS NOT NULL)",
            {"needles": needles, "leads": lead_ids},
        )
        return cursor.rowcount

    def idempotent_responses(self, tenant_id: UUID, needles: list[str]) -> int:
        """Stored API responses that name the person go: a retry of that request runs
        again instead of replaying them."""
        cursor = self._conn.execute(
            "DELETE FROM api_idempotency WHERE tenant_id = %s AND response IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM unnest(%s::text[]) n"
            "             WHERE strpos(lower(response::text), lower(n)) > 0)",
            (tenant_id, needles),
        )
        return cursor.rowcount
