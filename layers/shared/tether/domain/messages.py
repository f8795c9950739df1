"""Messages as the send path sees them: a stored send, and whether a request repeats it."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class StoredSend:
    """A message stored under a send key."""

    id: UUID
    status: str
    from_address: str
    lead_id: UUID | None
    campaign_id: UUID | None

    def repeats(self, lead_id: UUID | None, campaign_id: UUID) -> bool:
        """Whether a request for this lead and campaign is this send asked for again (a
        send key reused for another lead or campaign is not: it is a conflict)."""
        return self.lead_id == lead_id and self.campaign_id == campaign_id
