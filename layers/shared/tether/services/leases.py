"""Pool leases (seed 001): a number lent to a lead for a call, and given back on time."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.numbers import Lease
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import Conflict, InvalidInput, NotFound, PoolExhausted
from tether.domain.leases import CallOutcome, release_at_after
from tether.domain.outbox import EventType, lease_data
from tether.observability import logger, metrics
from tether.services.numbers import tenant_number_settings


@dataclass(frozen=True, slots=True)
class ReleaseReport:
    released: int
    batches: int
    finished: bool  # False when the time budget ran out with expired leases left


def lease_number(
    uow: UnitOfWork, tenant_id: UUID, lead_id: UUID, pool: str | None, now: datetime
) -> Lease:
    """Lease the pool's least recently used rested number to the lead (or give back the
    one it holds); `pool` None: the pool of the lead's campaign. One round trip: the
    claim is a transaction of its own (see NumberRepository.claim). Raises
    PoolExhausted, after an audit row and a metric, when none is free."""
    with uow:
        pool, lease = claim_number(uow, tenant_id, lead_id, pool, now, alone=True)
        uow.commit()  # the claim committed itself: this relays its lease.acquired
    return leased_or_exhausted(lease, tenant_id, lead_id, pool)


def claim_number(
    uow: UnitOfWork,
    tenant_id: UUID,
    lead_id: UUID,
    pool: str | None,
    now: datetime,
    *,
    alone: bool = False,
) -> tuple[str, Lease | None]:
    """The lease step: the pool claimed in and the number, or None (and an audit row)
    when the pool has none free. `alone`: the claim is the whole transaction, committed
    by its statement (only with no transaction open)."""
    try:
        claim = uow.numbers.claim(tenant_id, lead_id, pool, now, alone=alone)
    except Conflict:
        # The claim's steps each see what committed before them, so a claim that waited
        # for another of the same lead finds its number. A collision on the
        # one-lease-per-lead index all the same is retried when the claim is the whole
        # transaction; inside a caller's transaction it fails that transaction, whose
        # other writes a retry here would lose.
        if not alone:
            raise
        claim = uow.numbers.claim(tenant_id, lead_id, pool, now, alone=alone)
    if claim.pool is None:
        raise InvalidInput("the lead has no campaign: name the pool to lease from")
    if claim.event is not None:  # lease.acquired, once per lease, written with it
        uow.outbox.written(claim.event)
    return claim.pool, claim.lease


def record_releases(
    uow: UnitOfWork, released: list[dict[str, Any]], reason: str, now: datetime
) -> None:
    """lease.released for each lease a release statement ended, in its transaction."""
    uow.outbox.record_many(
        [
            (
                row["tenant_id"],
                EventType.LEASE_RELEASED,
                lease_data(row["lead_id"], row["id"], row["e164"], row["pool"], reason=reason),
                row["lead_id"],
            )
            for row in released
        ],
        now,
    )


def leased_or_exhausted(lease: Lease | None, tenant_id: UUID, lead_id: UUID, pool: str) -> Lease:
    """After the lease's commit: the lease, logged, or PoolExhausted with its metric."""
    if lease is None:
        metrics.add_metric(name="PoolExhausted", unit="Count", value=1)
        logger.warning(
            "pool exhausted",
            extra={"tenant_id": str(tenant_id), "lead_id": str(lead_id), "pool": pool},
        )
        raise PoolExhausted(pool)
    logger.info(
        "number leased",
        extra={
            "tenant_id": str(tenant_id),
            "lead_id": str(lead_id),
            "pool": pool,
            "phone_number": lease.phone_number,
            "release_at": lease.release_at.isoformat(),
            "already_held": lease.already_held,
        },
    )
    return lease


def record_call_outcome(
    uow: UnitOfWork,
    tenant_id: UUID,
    lead_id: UUID,
    pool: str,
    outcome: CallOutcome,
    now: datetime,
    appointment_at: datetime | None = None,
) -> datetime | None:
    """Apply a call's outcome to the lead's lease: returns when the lease now ends, or
    None when the outcome released it at once."""
    with uow:
        release_at = apply_call_outcome(uow, tenant_id, lead_id, pool, outcome, now, appointment_at)
        uow.commit()
    return release_at


def apply_call_outcome(
    uow: UnitOfWork,
    tenant_id: UUID,
    lead_id: UUID,
    pool: str,
    outcome: CallOutcome,
    now: datetime,
    appointment_at: datetime | None = None,
    *,
    dedupe_key: str | None = None,
    details: Mapping[str, Any] | None = None,
    past_appointment_allowed: bool = False,
) -> datetime | None:
    """`record_call_outcome` as a step of the caller's open transaction. A reported
    call (services.call_outcomes) names its lead event by the call (`dedupe_key`), adds
    its `details` to it, and may tell of an appointment that has passed already."""
    rules = tenant_number_settings(uow, tenant_id).lease
    held = _lock_lease(uow, lead_id, pool)
    if held is None:
        raise NotFound("lease", f"lead {lead_id} in pool {pool!r}")
    if (
        outcome is CallOutcome.BOOKED
        and appointment_at is not None
        and appointment_at <= now
        and not past_appointment_allowed
    ):
        raise InvalidInput("the appointment must be in the future")
    release_at = release_at_after(
        outcome,
        assigned_at=held["assigned_at"],
        now=now,
        rules=rules,
        no_answers_before=held["no_answer_count"],
        appointment_at=appointment_at,
    )
    uow.numbers.record_outcome(held["id"], outcome, release_at, appointment_at)
    lead = uow.leads.get(lead_id)
    assert lead is not None
    uow.lead_events.append(
        lead,
        "CALL_OUTCOME",
        dedupe_key or f"call:{held['id']}:{lead_id}:{now.isoformat()}",
        payload={
            **(details or {}),
            "outcome": outcome.value,
            "phone_number": held["e164"],
            "appointment_at": appointment_at.isoformat() if appointment_at else None,
            "release_at": release_at.isoformat(),
        },
    )
    if outcome is CallOutcome.BOOKED:  # a booked call ends the follow-ups
        uow.timers.cancel(lead_id, now, "call booked")
    released = release_at <= now
    if released:
        record_releases(
            uow, uow.numbers.release_number(held["id"], now, outcome.value), outcome.value, now
        )
    logger.info(
        "call outcome recorded",
        extra={
            "lead_id": str(lead_id),
            "pool": pool,
            "outcome": outcome.value,
            "release_at": release_at.isoformat(),
        },
    )
    return None if released else release_at


def release_lease(
    uow: UnitOfWork, lead_id: UUID, pool: str, now: datetime, reason: str = "manual"
) -> bool:
    """Give the lead's number in `pool` back now. False when it held none."""
    with uow:
        held = _lock_lease(uow, lead_id, pool)
        if held is not None:
            record_releases(uow, uow.numbers.release_number(held["id"], now, reason), reason, now)
            uow.commit()
    # with nothing held, leaving the block rolls back: the search's lock does not linger
    return held is not None


def _lock_lease(uow: UnitOfWork, lead_id: UUID, pool: str) -> dict[str, Any] | None:
    """Lock the lead, then its lease in `pool`: the order lease_number takes them in."""
    if uow.leads.get(lead_id, for_update=True) is None:
        raise NotFound("lead", lead_id)
    return uow.numbers.held(lead_id, pool)


def release_expired_leases(
    uow: UnitOfWork, now: datetime, batch_size: int = 500, time_budget_seconds: float = 50.0
) -> ReleaseReport:
    """Release every lease past its release time, across tenants (jobs role), in short
    batches that each commit. Safe to run concurrently with itself and with leases:
    rows another transaction holds are skipped and picked up by the next run."""
    deadline = time.monotonic() + time_budget_seconds
    released = batches = 0
    with uow:
        while True:
            rows = uow.numbers.release_expired(now, batch_size)
            record_releases(uow, rows, "expired", now)
            uow.commit()  # each batch is a transaction of its own: its locks go at once
            batches += 1
            released += len(rows)
            if len(rows) < batch_size:
                finished = True
                break
            if time.monotonic() >= deadline:
                finished = False
                break
    metrics.add_metric(name="LeasesReleased", unit="Count", value=released)
    logger.info(
        "expired leases released",
        extra={"released": released, "batches": batches, "finished": finished},
    )
    return ReleaseReport(released, batches, finished)
