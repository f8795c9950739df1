"""Entities: plain data with behaviour, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tether.domain.lead_state import LeadState, transition


@dataclass(frozen=True, slots=True)
class Lead:
    id: UUID
    tenant_id: UUID
    campaign_id: UUID | None
    phone: str
    state: LeadState

    def moved_to(self, target: LeadState) -> Lead:
        """This lead in `target`, if the state machine allows it (else InvalidTransition)."""
        return Lead(
            self.id, self.tenant_id, self.campaign_id, self.phone, transition(self.state, target)
        )
