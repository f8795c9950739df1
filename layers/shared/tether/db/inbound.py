"""SQL for inbound matching: a reply back to its number, campaign and lead."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tether.db.session import Session

# One statement, index lookups only (seed 000's LIKE '%…%' fallback scanned every lead
# and could pick the wrong one). The lead side starts from the sender's exact number,
# which only a handful of leads share, so no step walks a number's many bindings.
_MATCH = """
WITH ours AS (
    SELECT id FROM phone_numbers WHERE tenant_id = %(tenant)s AND e164 = %(to)s
), candidates AS (
    SELECT id, campaign_id, last_message_at FROM leads WHERE tenant_id = %(tenant)s AND phone = %(from)s
), bound AS (
    -- the hard rule's own record: this number texted this lead in this campaign
    SELECT b.lead_id, b.campaign_id, b.campaign_phone_assignment_id AS assignment_id
    FROM candidates c
    JOIN lead_sender_bindings b ON b.lead_id = c.id
    JOIN ours ON ours.id = b.phone_number_id
    ORDER BY b.bound_at DESC
    LIMIT 1
), assigned AS (
    -- the campaign the receiving number works for: a live one before a finished one
    SELECT a.id AS assignment_id, a.campaign_id
    FROM campaign_phone_assignments a
    JOIN ours ON ours.id = a.phone_number_id
    JOIN campaigns cm ON cm.id = a.campaign_id
    ORDER BY cm.status IN ('staged', 'active', 'paused') DESC, a.assigned_at DESC
    LIMIT 1
), in_campaign AS (
    SELECT c.id AS lead_id
    FROM candidates c JOIN assigned ON assigned.campaign_id = c.campaign_id
    ORDER BY c.last_message_at DESC NULLS LAST
    LIMIT 1
), anywhere AS (
    SELECT c.id AS lead_id, c.campaign_id
    FROM candidates c
    ORDER BY c.last_message_at DESC NULLS LAST
    LIMIT 1
)
SELECT (SELECT id FROM ours) AS number_id,
       coalesce((SELECT assignment_id FROM bound), (SELECT assignment_id FROM assigned)) AS assignment_id,
       coalesce((SELECT campaign_id FROM bound), (SELECT campaign_id FROM assigned),
                (SELECT campaign_id FROM anywhere)) AS campaign_id,
       coalesce((SELECT lead_id FROM bound), (SELECT lead_id FROM in_campaign),
                (SELECT lead_id FROM anywhere)) AS lead_id,
       CASE WHEN EXISTS (SELECT 1 FROM bound) THEN 'binding'
            WHEN EXISTS (SELECT 1 FROM in_campaign) THEN 'campaign'
            WHEN EXISTS (SELECT 1 FROM anywhere) THEN 'tenant' END AS matched_by
"""


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
