"""Consent records and the re-subscribe (issue 19): recording a grant or a revocation
with its evidence, reading the log, and freeing a suppressed lead with a consent newer
than its suppression."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.consent import Consent, ConsentEvidence, ConsentKind, check_evidence
from tether.domain.errors import InvalidInput, InvalidState, NotFound
from tether.domain.lead_state import RESUBSCRIBE_TARGET, RESUBSCRIBED, LeadState
from tether.domain.model import Lead
from tether.domain.outbox import EventType, opted_out_data
from tether.domain.pagination import Page, Position, page_of
from tether.domain.phone import normalize_or_keep, normalize_phone
from tether.observability import logger
from tether.services.leads import move_held_lead
from tether.services.numbers import tenant_number_settings

# What a consent lifts when it re-subscribes a lead: the person's own opt-outs and the
# tenant's do-not-contact entries, tenant-wide; a carrier's block of one number stays.
LIFTED_BY_CONSENT = ("opt_out", "manual", "complaint")


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    phone: str
    channel: str
    kind: ConsentKind
    evidence: ConsentEvidence
    lead_id: UUID | None = None


def record_consent(
    uow: UnitOfWork, tenant_id: UUID, request: ConsentRequest, actor: str | None, now: datetime
) -> Consent:
    """Record a grant or a revocation with its evidence. A revocation is an opt-out too:
    the phone is suppressed tenant-wide in the same transaction."""
    evidence = check_evidence(request.evidence, now)
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        phone = normalize_phone(request.phone, region)
        if request.lead_id is not None:
            lead = uow.leads.get(request.lead_id)
            if lead is None:
                raise NotFound("lead", request.lead_id)
            if lead.phone != phone:
                raise InvalidInput("the consent's phone is not the lead's phone")
        consent = uow.consents.record(
            tenant_id,
            phone,
            request.channel,
            request.kind,
            evidence,
            lead_id=request.lead_id,
            recorded_by=actor,
        )
        if request.kind is ConsentKind.REVOKED and uow.suppressions.add(
            tenant_id, phone, "opt_out", note=f"consent revoked ({consent.id})", added_by=actor
        ):
            uow.outbox.record(
                tenant_id,
                EventType.LEAD_OPTED_OUT,
                opted_out_data(
                    request.lead_id,
                    phone,
                    number_id=None,
                    number=None,
                    keyword=None,
                    source="consent",
                ),
                None,
                lead_id=request.lead_id,
            )
        uow.commit()
    logger.info(
        "consent recorded",
        extra={"tenant_id": str(tenant_id), "consent_id": str(consent.id), "kind": consent.kind},
    )
    return consent


def list_consents(
    uow: UnitOfWork,
    tenant_id: UUID,
    after: Position | None,
    limit: int,
    *,
    phone: str | None,
    channel: str | None,
) -> Page[Consent]:
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        wanted = normalize_or_keep(phone, region) if phone else None
        rows = uow.consents.page(after, limit, phone=wanted, channel=channel)
    return page_of(rows, limit, lambda c: (c.recorded_at, c.id))


@dataclass(frozen=True, slots=True)
class PhoneResubscribed:
    phone: str
    suppressions_lifted: int
    leads: list[UUID]


def resubscribe_lead(
    uow: UnitOfWork, tenant_id: UUID, lead_id: UUID, consent_id: UUID, actor: str | None
) -> dict[str, Any]:
    """Free a suppressed lead with a consent its phone gave after the suppression: the
    lead moves to RESPONDED with a RESUBSCRIBED event naming the consent (the database
    checks it), and the phone's tenant-wide opt-outs and do-not-contact entries older
    than the consent are lifted. Returns the lead as the API shows it."""
    with uow:
        lead = uow.leads.get(lead_id, for_update=True)
        if lead is None:
            raise NotFound("lead", lead_id)
        consent = _consent_of(uow, consent_id, lead.phone)
        _check_resubscribe(uow, lead, consent)
        lifted = _lift(uow, tenant_id, lead.phone, consent)
        _free(uow, lead, consent, actor, lifted)
        uow.commit()
        view = uow.leads.view(lead_id)
    logger.info(
        "lead re-subscribed",
        extra={"lead_id": str(lead_id), "consent_id": str(consent_id), "lifted": lifted},
    )
    assert view is not None
    return view


def resubscribe_phone(
    uow: UnitOfWork, tenant_id: UUID, phone: str, consent_id: UUID, actor: str | None
) -> PhoneResubscribed:
    """The same for a phone: every tenant-wide opt-out and do-not-contact entry of it
    older than the consent is lifted, and every lead of it suppressed before the consent
    moves to RESPONDED. 409 when the consent frees nothing."""
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        e164 = normalize_phone(phone, region)
        consent = _consent_of(uow, consent_id, e164)
        leads = uow.leads.suppressed_before(tenant_id, e164, consent.consented_at)
        lifted = _lift(uow, tenant_id, e164, consent)
        if not lifted and not leads:
            raise InvalidState(
                "nothing to re-subscribe: the phone has no suppression (and no suppressed"
                " lead) older than this consent"
            )
        for lead in leads:
            _free(uow, lead, consent, actor, lifted)
        uow.commit()
    logger.info(
        "phone re-subscribed",
        extra={"consent_id": str(consent_id), "lifted": lifted, "leads": len(leads)},
    )
    return PhoneResubscribed(e164, lifted, [lead.id for lead in leads])


def _consent_of(uow: UnitOfWork, consent_id: UUID, phone: str) -> Consent:
    consent = uow.consents.get(consent_id)
    if consent is None:
        raise NotFound("consent", consent_id)
    if consent.kind is not ConsentKind.GRANTED or consent.phone != phone:
        raise InvalidInput("the consent must be a grant given by this phone")
    return consent


def _lift(uow: UnitOfWork, tenant_id: UUID, phone: str, consent: Consent) -> int:
    return uow.suppressions.lift(
        tenant_id,
        phone,
        consent.consented_at,
        f"re-subscribed: consent {consent.id}",
        cause={"consent_id": str(consent.id)},
        reasons=LIFTED_BY_CONSENT,
    )


def _free(uow: UnitOfWork, lead: Lead, consent: Consent, actor: str | None, lifted: int) -> None:
    move_held_lead(
        uow,
        lead,
        RESUBSCRIBE_TARGET,
        event_type=RESUBSCRIBED,
        dedupe_key=f"resubscribe:{lead.id}:consent:{consent.id}",
        payload={"consent_id": str(consent.id), "by": actor, "suppressions_lifted": lifted},
    )


def _check_resubscribe(uow: UnitOfWork, lead: Lead, consent: Consent) -> None:
    """Say plainly why a consent cannot free this lead (the database would refuse it)."""
    if lead.state is not LeadState.SUPPRESSED:
        raise InvalidState(f"the lead is {lead.state.value}, not suppressed")
    view = uow.leads.view(lead.id)
    assert view is not None
    if consent.consented_at <= view["state_changed_at"]:
        raise InvalidInput(
            "the consent is older than the lead's suppression"
            f" ({view['state_changed_at'].isoformat()}): only a newer one re-subscribes"
        )
