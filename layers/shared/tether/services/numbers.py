"""The number inventory, campaign staging (seed 000) and the sticky sender.

Top-level operations (register, retire, stage, re-home) commit. `resolve_sender` and
`record_number_delivery` are steps of larger operations (a send, a status update) and
leave the commit to their caller, so everything lands in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.numbers import NumberSettings, SenderBinding
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import (
    InvalidInput,
    InvalidPhoneNumber,
    NoFreeNumber,
    NotFound,
    SenderUnavailable,
)
from tether.domain.phone import normalize_phone
from tether.domain.sender import choose_sender
from tether.observability import logger, metrics


@dataclass(frozen=True, slots=True)
class NumberRow:
    number: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    row: int
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class RegistrationReport:
    stored: list[str] = field(default_factory=list)
    already_registered: list[str] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RetiredNumber:
    number: str
    released_lease: bool
    leads_to_rehome: list[tuple[UUID, UUID]]  # (lead_id, campaign_id)


def tenant_number_settings(uow: UnitOfWork, tenant_id: UUID) -> NumberSettings:
    settings = uow.numbers.settings(tenant_id)
    if settings is None:
        raise NotFound("tenant", tenant_id)
    return settings


def register_numbers(
    uow: UnitOfWork,
    tenant_id: UUID,
    provider_account_id: UUID,
    pool: str,
    rows: Sequence[NumberRow],
) -> RegistrationReport:
    """Register numbers in a pool: every invalid row is reported with its reason, every
    valid one stored (numbers already registered are reported, not changed)."""
    pool = pool.strip()
    if not pool:
        raise InvalidInput("pool is empty")
    region = tenant_number_settings(uow, tenant_id).default_region
    if not uow.numbers.provider_account_exists(provider_account_id):
        raise NotFound("provider account", provider_account_id)
    valid: dict[str, tuple[str, str | None]] = {}
    first_row: dict[str, int] = {}
    rejected: list[RejectedRow] = []
    for index, row in enumerate(rows, start=1):
        try:
            e164 = normalize_phone(row.number, region)
        except InvalidPhoneNumber as error:
            rejected.append(RejectedRow(index, row.number, error.reason))
            continue
        if e164 in valid:
            rejected.append(RejectedRow(index, row.number, f"duplicate of row {first_row[e164]}"))
            continue
        valid[e164] = (e164, row.label)
        first_row[e164] = index
    inserted = {
        row["e164"]
        for row in uow.numbers.add_many(tenant_id, provider_account_id, pool, list(valid.values()))
    }
    uow.commit()
    report = RegistrationReport(
        stored=[n for n in valid if n in inserted],
        already_registered=[n for n in valid if n not in inserted],
        rejected=rejected,
    )
    logger.info(
        "numbers registered",
        extra={
            "tenant_id": str(tenant_id),
            "pool": pool,
            "stored": len(report.stored),
            "already_registered": len(report.already_registered),
            "rejected": len(report.rejected),
        },
    )
    return report


def retire_number(uow: UnitOfWork, number_id: UUID, now: datetime) -> RetiredNumber:
    """Take a number out of service: its lease (if any) is released, it is never chosen
    again, and the leads bound to it are listed for an explicit re-home."""
    number = uow.numbers.get(number_id, for_update=True)
    if number is None:
        raise NotFound("phone number", number_id)
    released = False
    if number["currently_assigned_to"] is not None:
        released = bool(uow.leases.release_number(number_id, now, "retired"))
    uow.numbers.retire(number_id, now)
    bound = [
        (row["lead_id"], row["campaign_id"])
        for row in uow.campaign_numbers.bound_to_number(number_id)
    ]
    uow.commit()
    logger.info(
        "number retired",
        extra={
            "phone_number_id": str(number_id),
            "released_lease": released,
            "leads_to_rehome": len(bound),
        },
    )
    return RetiredNumber(number["e164"], released, bound)


def stage_campaign(
    uow: UnitOfWork, campaign_id: UUID, now: datetime, rotation_numbers: int = 0
) -> list[dict[str, Any]]:
    """Give a campaign its primary number and `rotation_numbers` more from its pool.
    Staging a staged campaign changes nothing and returns its assignments."""
    if rotation_numbers < 0:
        raise InvalidInput("rotation_numbers cannot be negative")
    campaign = uow.campaign_numbers.lock_campaign(campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    existing = uow.campaign_numbers.assignments(campaign_id)
    if existing:
        return existing
    needed = 1 + rotation_numbers
    uow.campaign_numbers.lock_pool(campaign["tenant_id"], campaign["pool"])
    free = uow.campaign_numbers.free_numbers(campaign["tenant_id"], campaign["pool"], needed, now)
    if len(free) < needed:
        raise NoFreeNumber(campaign["pool"], needed, len(free))
    uow.campaign_numbers.assign(campaign["tenant_id"], campaign_id, free)
    uow.campaign_numbers.mark_staged(campaign_id, now)
    assignments = uow.campaign_numbers.assignments(campaign_id)
    uow.commit()
    logger.info(
        "campaign staged",
        extra={
            "campaign_id": str(campaign_id),
            "pool": campaign["pool"],
            "numbers": [a["phone_number"] for a in assignments],
        },
    )
    return assignments


def resolve_sender(
    uow: UnitOfWork, lead_id: UUID, campaign_id: UUID, now: datetime
) -> SenderBinding:
    """The number that texts this lead in this campaign: its binding, made on the first
    send. Does not commit: the caller's send commits binding and message together."""
    binding = uow.campaign_numbers.binding(lead_id, campaign_id)
    if binding is not None:
        if binding.number_status != "active":
            raise SenderUnavailable(
                f"lead {lead_id} is bound to {binding.phone_number}, which is {binding.number_status};"
                " re-home the lead first"
            )
        return binding
    lead = uow.leads.get(lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    candidates = uow.campaign_numbers.sender_candidates(campaign_id, now)
    if not candidates:
        raise SenderUnavailable(f"campaign {campaign_id} has no active number: stage it first")
    chosen = choose_sender(lead.phone, candidates)
    uow.campaign_numbers.bind(lead.tenant_id, lead_id, campaign_id, chosen)
    binding = uow.campaign_numbers.binding(lead_id, campaign_id)
    assert binding is not None  # bound now, by us or by a concurrent first send
    logger.info(
        "sender bound",
        extra={
            "lead_id": str(lead_id),
            "campaign_id": str(campaign_id),
            "phone_number": binding.phone_number,
        },
    )
    return binding


def rehome_lead(
    uow: UnitOfWork, lead_id: UUID, campaign_id: UUID, reason: str, now: datetime
) -> SenderBinding:
    """Move a bound lead to another of the campaign's numbers, recording why."""
    binding = uow.campaign_numbers.binding(lead_id, campaign_id)
    if binding is None:
        raise NotFound("sender binding", f"{lead_id}/{campaign_id}")
    lead = uow.leads.get(lead_id, for_update=True)
    assert lead is not None  # the binding references it
    candidates = uow.campaign_numbers.sender_candidates(
        campaign_id, now, exclude_number=binding.phone_number_id
    )
    if not candidates:
        raise SenderUnavailable(
            f"campaign {campaign_id} has no other active number to re-home lead {lead_id} to"
        )
    chosen = choose_sender(lead.phone, candidates)
    event_id = uow.lead_events.append(
        lead,
        "SENDER_REHOMED",
        f"rehome:{lead_id}:{campaign_id}:{now.isoformat()}",
        payload={
            "campaign_id": str(campaign_id),
            "from_number": binding.phone_number,
            "to_number": chosen.phone_number,
            "reason": reason,
        },
    )
    if event_id is None:
        raise InvalidInput(f"lead {lead_id} was already re-homed at {now.isoformat()}")
    uow.campaign_numbers.rehome(lead_id, campaign_id, chosen, event_id, now)
    moved = uow.campaign_numbers.binding(lead_id, campaign_id)
    assert moved is not None
    uow.commit()
    logger.info(
        "sender re-homed",
        extra={
            "lead_id": str(lead_id),
            "campaign_id": str(campaign_id),
            "from": binding.phone_number,
            "to": moved.phone_number,
            "reason": reason,
        },
    )
    return moved


def record_number_delivery(
    uow: UnitOfWork, tenant_id: UUID, number_id: UUID, outcome: str, now: datetime
) -> bool:
    """Count a delivery outcome on the number; True when it pushed the number into a
    health cooldown. Does not commit (part of applying a status update)."""
    if outcome not in {"sent", "delivered", "failed", "filtered"}:
        raise InvalidInput(f"unknown delivery outcome {outcome!r}")
    row = uow.numbers.record_delivery(number_id, outcome, now)
    if row is None:
        raise NotFound("phone number", number_id)
    if row["rested"]:
        metrics.add_metric(name="NumberRested", unit="Count", value=1)
        uow.audit.record(
            "number_rested",
            tenant_id=tenant_id,
            subject_type="phone_number",
            subject_id=str(number_id),
            detail={
                "phone_number": row["e164"],
                "cooldown_until": row["cooldown_until"].isoformat(),
            },
        )
        logger.warning(
            "number rested for its failure rate",
            extra={
                "tenant_id": str(tenant_id),
                "phone_number": row["e164"],
                "until": row["cooldown_until"].isoformat(),
            },
        )
    return bool(row["rested"])
