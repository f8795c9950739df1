"""The consent log's SQL (migration 0027): append-only rows, read newest first; what is
in force is the latest row of a (tenant, phone, channel)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.consent import Consent, ConsentEvidence, ConsentKind, SourceType
from tether.domain.pagination import Position

CONSENT_COLUMNS = (
    "id, phone, channel, kind, source_type, source, consented_at, recorded_at,"
    " disclosure_text, host(ip) AS ip, user_agent, evidence_ref, lead_id, message_id, recorded_by"
)


class ConsentRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def record(
        self,
        tenant_id: UUID,
        phone: str,
        channel: str,
        kind: ConsentKind,
        evidence: ConsentEvidence,
        *,
        lead_id: UUID | None = None,
        message_id: UUID | None = None,
        recorded_by: str | None = None,
    ) -> Consent:
        row = self._conn.execute(
            "INSERT INTO consents (tenant_id, phone, channel, kind, source_type, source,"
            " consented_at, disclosure_text, ip, user_agent, evidence_ref, lead_id, message_id,"
            " recorded_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {CONSENT_COLUMNS}",
            (
                tenant_id,
                phone,
                channel,
                kind.value,
                evidence.source_type.value,
                evidence.source,
                evidence.consented_at,
                evidence.disclosure_text,
                evidence.ip,
                evidence.user_agent,
                evidence.evidence_ref,
                lead_id,
                message_id,
                recorded_by,
            ),
        ).fetchone()
        assert row is not None
        return _consent(row)

    def record_keyword(
        self,
        tenant_id: UUID,
        phone: str,
        kind: ConsentKind,
        keyword: str,
        message_id: UUID,
        thread_id: UUID,
        lead_id: UUID | None,
        channel: str = "sms",
    ) -> None:
        """A consent given or revoked by a text from the phone on `channel` ('sms' or
        'whatsapp'): the evidence is that message, and the disclosure the text it
        answered (the thread's last outbound)."""
        self._conn.execute(
            "INSERT INTO consents (tenant_id, phone, channel, kind, source_type, source,"
            " consented_at, disclosure_text, evidence_ref, lead_id, message_id)"
            " SELECT %(tenant)s, %(phone)s, %(channel)s, %(kind)s, 'keyword', %(keyword)s, now(),"
            "  (SELECT o.body FROM messages o WHERE o.thread_id = %(thread)s"
            "   AND o.direction = 'outbound' ORDER BY o.created_at DESC LIMIT 1),"
            "  'message:' || %(message)s, %(lead)s, %(message)s",
            {
                "tenant": tenant_id,
                "phone": phone,
                "kind": kind.value,
                "keyword": keyword.upper(),
                "thread": thread_id,
                "message": message_id,
                "lead": lead_id,
                "channel": channel,
            },
        )

    def record_many(
        self,
        tenant_id: UUID,
        consents: Sequence[tuple[str, ConsentEvidence]],
        recorded_by: str | None,
        channel: str = "sms",
    ) -> int:
        """Grants for many phones in one statement (an import): how many."""
        if not consents:
            return 0
        cursor = self._conn.execute(
            "INSERT INTO consents (tenant_id, phone, channel, kind, source_type, source,"
            " consented_at, disclosure_text, ip, user_agent, evidence_ref, recorded_by)"
            " SELECT %s, c.phone, %s, 'granted', c.source_type, c.source, c.at, c.disclosure,"
            "  c.ip::inet, c.agent, c.evidence, %s"
            " FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[],"
            "  %s::text[], %s::text[], %s::text[])"
            "  AS c(phone, source_type, source, at, disclosure, ip, agent, evidence)",
            (
                tenant_id,
                channel,
                recorded_by,
                [phone for phone, _ in consents],
                [e.source_type.value for _, e in consents],
                [e.source for _, e in consents],
                [e.consented_at for _, e in consents],
                [e.disclosure_text for _, e in consents],
                [e.ip for _, e in consents],
                [e.user_agent for _, e in consents],
                [e.evidence_ref for _, e in consents],
            ),
        )
        return cursor.rowcount

    def get(self, consent_id: UUID) -> Consent | None:
        row = self._conn.execute(
            f"SELECT {CONSENT_COLUMNS} FROM consents WHERE id = %s", (consent_id,)
        ).fetchone()
        return _consent(row) if row else None

    def page(
        self, after: Position | None, limit: int, *, phone: str | None, channel: str | None
    ) -> list[Consent]:
        """The tenant's consent log, newest recorded first, by exact phone and channel."""
        condition, order = newest_first("recorded_at")
        rows = self._conn.execute(
            f"SELECT {CONSENT_COLUMNS} FROM consents WHERE {condition}"
            " AND (%(phone)s::text IS NULL OR phone = %(phone)s)"
            " AND (%(channel)s::text IS NULL OR channel = %(channel)s)"
            f" {order}",
            after_position(after, limit, phone=phone, channel=channel),
        ).fetchall()
        return [_consent(row) for row in rows]

    def requires_consent(self, tenant_id: UUID) -> bool:
        row = self._conn.execute(
            "SELECT require_consent FROM tenant_config WHERE tenant_id = %s", (tenant_id,)
        ).fetchone()
        return bool(row and row["require_consent"])

    def missing(
        self, wanted: Sequence[tuple[UUID, str]], channel: str = "sms"
    ) -> set[tuple[UUID, str]]:
        """Of (tenant, phone) pairs, those whose tenant requires consent and whose phone
        has none in force on `channel`, in one statement."""
        if not wanted:
            return set()
        rows = self._conn.execute(
            "SELECT DISTINCT w.tenant_id, w.phone"
            " FROM unnest(%s::uuid[], %s::text[]) AS w(tenant_id, phone)"
            " JOIN tenant_config c ON c.tenant_id = w.tenant_id AND c.require_consent"
            " WHERE NOT consent_in_force(w.tenant_id, w.phone, %s)",
            ([t for t, _ in wanted], [p for _, p in wanted], channel),
        ).fetchall()
        return {(row["tenant_id"], row["phone"]) for row in rows}


def _consent(row: dict[str, Any]) -> Consent:
    return Consent(
        **{**row, "kind": ConsentKind(row["kind"]), "source_type": SourceType(row["source_type"])}
    )
