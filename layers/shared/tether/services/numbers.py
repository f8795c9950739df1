"""The number inventory, campaign staging (seed 000) and the sticky sender.

The use cases (register, retire, stage, re-home) take an unopened unit of work and own
its transaction. The steps (`store_numbers`, `stage_numbers`, `resolve_senders`,
`record_number_delivery`) take the caller's open one and never commit, so everything
lands in one transaction.
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
from tether.domain.sender import SenderCandidate, choose_sender, choose_senders
from tether.domain.whatsapp import WHATSAPP_PROVIDERS, carries_whatsapp
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
    with uow:
        report = store_numbers(uow, tenant_id, provider_account_id, pool, rows)
        uow.commit()
    return report


def store_numbers(
    uow: UnitOfWork,
    tenant_id: UUID,
    provider_account_id: UUID,
    pool: str,
    rows: Sequence[NumberRow],
) -> RegistrationReport:
    """`register_numbers` as a step of the caller's open transaction."""
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
    inserted = uow.numbers.add_many(tenant_id, provider_account_id, pool, list(valid.values()))
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
    with uow:
        number = uow.numbers.get(number_id, for_update=True)
        if number is None:
            raise NotFound("phone number", number_id)
        released = False
        if number.is_leased:
            released = bool(uow.numbers.release_number(number_id, now, "retired"))
        uow.numbers.retire(number_id, now)
        bound = uow.campaign_numbers.bound_to_number(number_id)
        uow.commit()
    logger.info(
        "number retired",
        extra={
            "phone_number_id": str(number_id),
            "released_lease": released,
            "leads_to_rehome": len(bound),
        },
    )
    return RetiredNumber(number.e164, released, bound)


def stage_campaign(
    uow: UnitOfWork, campaign_id: UUID, now: datetime, rotation_numbers: int = 0
) -> list[dict[str, Any]]:
    """Give a campaign its primary number and `rotation_numbers` more from its pool.
    Staging a staged campaign changes nothing and returns its assignments."""
    with uow:
        assignments = stage_numbers(uow, campaign_id, now, rotation_numbers)
        uow.commit()
    return assignments


def stage_numbers(
    uow: UnitOfWork, campaign_id: UUID, now: datetime, rotation_numbers: int = 0
) -> list[dict[str, Any]]:
    """`stage_campaign` as a step of the caller's open transaction."""
    if rotation_numbers < 0:
        raise InvalidInput("rotation_numbers cannot be negative")
    campaign = uow.campaigns.get(campaign_id, for_update=True)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    existing = uow.campaign_numbers.assignments(campaign_id, "sms")
    if existing:
        return existing
    needed = 1 + rotation_numbers
    uow.campaign_numbers.lock_pool(campaign.tenant_id, campaign.pool)
    free = uow.campaign_numbers.free_numbers(campaign.tenant_id, campaign.pool, needed, now)
    if len(free) < needed:
        raise NoFreeNumber(campaign.pool, needed, len(free))
    uow.campaign_numbers.assign(campaign.tenant_id, campaign_id, free)
    uow.campaigns.mark_staged(campaign_id, now)
    assignments = uow.campaign_numbers.assignments(campaign_id, "sms")
    logger.info(
        "campaign staged",
        extra={
            "campaign_id": str(campaign_id),
            "pool": campaign.pool,
            "numbers": [a["phone_number"] for a in assignments],
        },
    )
    return assignments


def assign_campaign_sender(
    uow: UnitOfWork, campaign_id: UUID, number_id: UUID, channel: str
) -> dict[str, Any]:
    """Add one of the tenant's numbers to a campaign on a channel: for 'whatsapp', the
    campaign's WhatsApp sender (its primary when it has none yet). The number must be
    active; a WhatsApp one a WhatsApp sender (whatsapp_enabled) of a provider that
    carries WhatsApp (InvalidInput otherwise, and migration 0036 refuses it too)."""
    if channel not in ("sms", "whatsapp"):
        raise InvalidInput(f"unknown sender channel {channel!r}: 'sms' or 'whatsapp'")
    with uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        number = uow.campaign_numbers.sender_facts(number_id)
        if number is None:
            raise NotFound("phone number", number_id)
        if number.status != "active":
            raise InvalidInput(f"{number.e164} is {number.status}: only an active number sends")
        if channel == "whatsapp":
            if not carries_whatsapp(number.provider):
                raise InvalidInput(
                    f"{number.e164} is a {number.provider} number, and {number.provider} does"
                    f" not carry WhatsApp (WhatsApp goes through {', '.join(sorted(WHATSAPP_PROVIDERS))})"
                )
            if not number.whatsapp_enabled:
                raise InvalidInput(
                    f"{number.e164} is not a WhatsApp sender: register it with whatsapp true"
                    " once its provider has it as a WhatsApp sender"
                )
        assignment = uow.campaign_numbers.add_sender(
            campaign.tenant_id, campaign_id, number_id, number.e164, channel
        )
        uow.commit()
    logger.info(
        "campaign sender assigned",
        extra={
            "campaign_id": str(campaign_id),
            "phone_number": number.e164,
            "channel": channel,
            "is_primary": assignment["is_primary"],
        },
    )
    return assignment


@dataclass(frozen=True, slots=True)
class SenderWanted:
    """A lead that a campaign is about to text."""

    tenant_id: UUID
    lead_id: UUID
    lead_phone: str
    campaign_id: UUID
    channel: str = "sms"  # the sender channel: 'sms' (SMS and MMS) or 'whatsapp'


def resolve_senders(
    uow: UnitOfWork, wanted: Sequence[SenderWanted], now: datetime
) -> dict[tuple[UUID, UUID], SenderBinding | SenderUnavailable]:
    """The number that texts each lead in each campaign on the wanted channel, by (lead,
    campaign): its binding on that channel, made on the first send (area-code match
    first, then least loaded; a binding made meanwhile by a concurrent first send wins),
    or why there is none. All wanted of one batch share a channel (`resolve_senders_on`
    mixes them). A few set-based statements for the whole batch; binds in the open
    transaction."""
    channels = {w.channel for w in wanted}
    if len(channels) > 1:
        raise ValueError("resolve_senders takes one channel at a time: use resolve_senders_on")
    channel = channels.pop() if channels else "sms"
    pairs = list({(w.lead_id, w.campaign_id): w for w in wanted}.values())
    found = uow.campaign_numbers.bindings_for([(w.lead_id, w.campaign_id) for w in pairs], channel)
    unbound = [w for w in pairs if (w.lead_id, w.campaign_id) not in found]
    refused: dict[tuple[UUID, UUID], SenderBinding | SenderUnavailable] = {}
    if unbound:
        candidates = uow.campaign_numbers.sender_candidates_of(
            {w.campaign_id for w in unbound}, now, channel
        )
        new: list[tuple[UUID, UUID, UUID, SenderCandidate]] = []
        for campaign_id in dict.fromkeys(w.campaign_id for w in unbound):
            leads = [w for w in unbound if w.campaign_id == campaign_id]
            pool = candidates.get(campaign_id, [])
            if not pool:
                for w in leads:
                    refused[(w.lead_id, campaign_id)] = SenderUnavailable(
                        f"campaign {campaign_id} has no active number: stage it first"
                        if channel == "sms"
                        else f"campaign {campaign_id} has no active {channel} sender:"
                        f" assign one (POST /v1/campaigns/{campaign_id}/assignments)"
                    )
                continue
            chosen = choose_senders([w.lead_phone for w in leads], pool)
            new.extend(
                (w.tenant_id, w.lead_id, campaign_id, sender)
                for w, sender in zip(leads, chosen, strict=True)
            )
        uow.campaign_numbers.bind_many(new, channel)
        found.update(
            uow.campaign_numbers.bindings_for([(lead, c) for _, lead, c, _ in new], channel)
        )
        for _, lead_id, campaign_id, _ in new:
            binding = found.get((lead_id, campaign_id))
            if binding is not None:
                logger.info(
                    "sender bound",
                    extra={
                        "lead_id": str(lead_id),
                        "campaign_id": str(campaign_id),
                        "phone_number": binding.phone_number,
                        "channel": channel,
                    },
                )
    resolved: dict[tuple[UUID, UUID], SenderBinding | SenderUnavailable] = {}
    for w in pairs:
        key = (w.lead_id, w.campaign_id)
        binding = found.get(key)
        if binding is None:
            resolved[key] = refused[key]
        elif binding.number_status != "active":
            resolved[key] = SenderUnavailable(
                f"lead {w.lead_id} is bound to {binding.phone_number}, which is"
                f" {binding.number_status}; re-home the lead first"
            )
        else:
            resolved[key] = binding
    return resolved


def resolve_senders_on(
    uow: UnitOfWork, wanted: Sequence[SenderWanted], now: datetime
) -> dict[tuple[UUID, UUID, str], SenderBinding | SenderUnavailable]:
    """`resolve_senders` of wanted senders on any channels, by (lead, campaign,
    channel): one pass per channel, so an SMS send never finds a WhatsApp binding and
    a WhatsApp send never an SMS one."""
    resolved: dict[tuple[UUID, UUID, str], SenderBinding | SenderUnavailable] = {}
    for channel in dict.fromkeys(w.channel for w in wanted):
        found = resolve_senders(uow, [w for w in wanted if w.channel == channel], now)
        resolved.update({(lead, campaign, channel): b for (lead, campaign), b in found.items()})
    return resolved


def resolve_sender(
    uow: UnitOfWork, lead_id: UUID, campaign_id: UUID, now: datetime
) -> SenderBinding:
    """`resolve_senders` of one lead: its binding, or SenderUnavailable."""
    lead = uow.leads.get(lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    wanted = SenderWanted(lead.tenant_id, lead.id, lead.phone, campaign_id)
    binding = resolve_senders(uow, [wanted], now)[(lead_id, campaign_id)]
    if isinstance(binding, SenderUnavailable):
        raise binding
    return binding


def rehome_lead(
    uow: UnitOfWork,
    lead_id: UUID,
    campaign_id: UUID,
    reason: str,
    now: datetime,
    channel: str = "sms",
) -> SenderBinding:
    """Move a bound lead to another of the campaign's numbers on the same channel,
    recording why."""
    with uow:
        binding = uow.campaign_numbers.binding(lead_id, campaign_id, channel)
        if binding is None:
            raise NotFound("sender binding", f"{lead_id}/{campaign_id}/{channel}")
        lead = uow.leads.get(lead_id, for_update=True)
        assert lead is not None  # the binding references it
        candidates = uow.campaign_numbers.sender_candidates(
            campaign_id, now, exclude_number=binding.phone_number_id, channel=channel
        )
        if not candidates:
            raise SenderUnavailable(
                f"campaign {campaign_id} has no other active number to re-home lead {lead_id} to"
            )
        chosen = choose_sender(lead.phone, candidates)
        event_id = uow.lead_events.append(
            lead,
            "SENDER_REHOMED",
            f"rehome:{lead_id}:{campaign_id}:{channel}:{now.isoformat()}"
            if channel != "sms"
            else f"rehome:{lead_id}:{campaign_id}:{now.isoformat()}",
            payload={
                "campaign_id": str(campaign_id),
                "from_number": binding.phone_number,
                "to_number": chosen.phone_number,
                "reason": reason,
                **({"channel": channel} if channel != "sms" else {}),
            },
        )
        if event_id is None:
            raise InvalidInput(f"lead {lead_id} was already re-homed at {now.isoformat()}")
        uow.campaign_numbers.rehome(lead_id, campaign_id, chosen, event_id, now, channel)
        moved = uow.campaign_numbers.binding(lead_id, campaign_id, channel)
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
    counted = uow.numbers.record_delivery(number_id, outcome, now)
    if counted is None:
        raise NotFound("phone number", number_id)
    if counted.rested:
        assert counted.cooldown_until is not None  # a rest sets it
        metrics.add_metric(name="NumberRested", unit="Count", value=1)
        uow.audit.record(
            "number_rested",
            tenant_id=tenant_id,
            subject_type="phone_number",
            subject_id=str(number_id),
            detail={
                "phone_number": counted.e164,
                "cooldown_until": counted.cooldown_until.isoformat(),
            },
        )
        logger.warning(
            "number rested for its failure rate",
            extra={
                "tenant_id": str(tenant_id),
                "phone_number": counted.e164,
                "until": counted.cooldown_until.isoformat(),
            },
        )
    return counted.rested
