"""Leases and call outcomes as the API asks for them: the pool defaults to the one of
the lead's campaign."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from tether.db.numbers import Lease
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.leases import CallOutcome
from tether.services.leases import lease_number, record_call_outcome


def _pool_of(uow: UnitOfWork, lead_id: UUID, pool: str | None) -> str:
    row = uow.lead_records.campaign_pool(lead_id)
    uow.rollback()
    if row is None:
        raise NotFound("lead", lead_id)
    chosen = pool or row["pool"]
    if not chosen:
        raise InvalidInput("the lead has no campaign: name the pool to lease from")
    return str(chosen)


def lease_for_lead(
    uow: UnitOfWork, tenant_id: UUID, lead_id: UUID, pool: str | None, now: datetime
) -> Lease:
    return lease_number(uow, tenant_id, lead_id, _pool_of(uow, lead_id, pool), now)


def call_outcome_for_lead(
    uow: UnitOfWork,
    tenant_id: UUID,
    lead_id: UUID,
    pool: str | None,
    outcome: CallOutcome,
    now: datetime,
    appointment_at: datetime | None,
) -> datetime | None:
    return record_call_outcome(
        uow, tenant_id, lead_id, _pool_of(uow, lead_id, pool), outcome, now, appointment_at
    )
