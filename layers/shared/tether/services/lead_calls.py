"""Leases and call outcomes as the API asks for them: the pool defaults to the one of
the lead's campaign."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from tether.db.numbers import Lease
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.leases import CallOutcome
from tether.services.leases import apply_call_outcome, claim_number, leased_or_exhausted


def lease_for_lead(
    uow: UnitOfWork, tenant_id: UUID, lead_id: UUID, pool: str | None, now: datetime
) -> Lease:
    """`lease_number` in `pool`, else in the pool of the lead's campaign (which the
    claim's statement looks up itself: one round trip)."""
    with uow:
        chosen, lease = claim_number(uow, tenant_id, lead_id, pool or None, now, alone=True)
        uow.commit()  # the claim committed itself: this relays its lease.acquired
    return leased_or_exhausted(lease, tenant_id, lead_id, chosen)


def call_outcome_for_lead(
    uow: UnitOfWork,
    tenant_id: UUID,
    lead_id: UUID,
    pool: str | None,
    outcome: CallOutcome,
    now: datetime,
    appointment_at: datetime | None,
) -> datetime | None:
    """`record_call_outcome` in `pool`, else in the pool of the lead's campaign."""
    with uow:
        chosen = _pool_of(uow, lead_id, pool)
        release_at = apply_call_outcome(
            uow, tenant_id, lead_id, chosen, outcome, now, appointment_at
        )
        uow.commit()
    return release_at


def _pool_of(uow: UnitOfWork, lead_id: UUID, pool: str | None) -> str:
    found = uow.leads.pool_of(lead_id)
    if found is None:
        raise NotFound("lead", lead_id)
    chosen = pool or found.pool
    if not chosen:
        raise InvalidInput("the lead has no campaign: name the pool to lease from")
    return chosen
