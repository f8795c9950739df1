"""Erasure on request (CCPA/GDPR, issue 19): a person's names, email, custom data, texts
and raw webhook requests cleared everywhere they occur, in one transaction.

Kept, on purpose: the hard-rule binding (a message's addresses, number and assignment;
the thread's addresses; the lead's number and state) and the counts, and the opt-out as
a hash of tenant and number, so an erased person who opted out stays opted out. One
audit row names what was cleared and the key that asked, never the number itself.
Erasing again clears only what arrived since."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.erasure import ErasureReport, needles, phone_hash
from tether.domain.errors import NotFound
from tether.domain.phone import normalize_phone
from tether.observability import logger, metrics
from tether.services.numbers import tenant_number_settings


def erase_lead(uow: UnitOfWork, lead_id: UUID, actor: str, now: datetime) -> ErasureReport:
    """Erase the person a lead is: everything under its number in its tenant."""
    with uow:
        lead = uow.leads.get(lead_id, for_update=True)
        if lead is None:
            raise NotFound("lead", lead_id)
        report = _erase(uow, lead.tenant_id, lead.phone, actor, now, ("lead", str(lead_id)))
        uow.commit()
    return report


def erase_phone(
    uow: UnitOfWork, tenant_id: UUID, raw_phone: str, actor: str, now: datetime
) -> ErasureReport:
    """Erase whoever texted from or was texted at this number, lead or no lead."""
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        phone = normalize_phone(raw_phone, region)  # InvalidPhoneNumber: a 422
        report = _erase(uow, tenant_id, phone, actor, now, None)
        uow.commit()
    return report


def _erase(
    uow: UnitOfWork,
    tenant_id: UUID,
    phone: str,
    actor: str,
    now: datetime,
    subject: tuple[str, str] | None,
) -> ErasureReport:
    person = uow.erasure.person(tenant_id, phone)
    found = needles(phone, person.names, person.emails)
    leads = person.lead_ids
    counts = {
        # logs first: they are searched for the names the lead still holds
        "lead_events": uow.erasure.lead_events(leads, found, now),
        "outbox_events": uow.outbox.erase(tenant_id, leads, found, now),
        "lead_timers": uow.erasure.timers(leads, found),
        "audit_entries": uow.erasure.audit(tenant_id, found, now),
        "idempotent_responses": uow.erasure.idempotent_responses(tenant_id, found),
        "notifications": uow.erasure.notifications(tenant_id, phone, leads),
        "thread_insights": uow.erasure.insights(tenant_id, phone, leads),
        "webhook_receipts": uow.erasure.receipts(tenant_id, phone, now),
        "messages": uow.erasure.messages(tenant_id, phone, leads, now),
        "leads": uow.erasure.leads(leads, now),
        "consents": uow.erasure.consents(tenant_id, phone, leads, now),
        "suppressions": uow.suppressions.erase(tenant_id, phone, now),
    }
    report = ErasureReport(phone_hash(tenant_id, phone), counts)
    subject_type, subject_id = subject or ("phone_hash", report.phone_hash)
    if report.erased_anything:
        uow.audit.record(
            "erasure",
            tenant_id=tenant_id,
            actor=actor,
            subject_type=subject_type,
            subject_id=subject_id,
            detail={"phone_hash": report.phone_hash, "erased": counts},
        )
        metrics.add_metric(name="Erasures", unit="Count", value=1)
    logger.info(
        "erasure",
        extra={
            "tenant_id": str(tenant_id),
            "phone_hash": report.phone_hash,
            "subject_type": subject_type,
            "erased": counts,
            "actor": actor,
        },
    )
    return report
