"""SQL for inbound matching: a reply back to its number, campaign and lead."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

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
