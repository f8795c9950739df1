"""A call outcome the voice side reported (a stored webhook receipt's
``CallOutcomeReport``), applied to the lead's number lease: seed 001's release rules
without anyone calling the API.

The lead is the one the call's metadata names, else the one the called number is
leased to (when its phone is the customer's), else the tenant's lead with the
customer's number. Each call is recorded once in `call_outcomes`, whatever became of
it: applied to the lease; a late report about a lease that has ended (recorded on the
lead, nothing re-leased); one that arrived after a later call's outcome (superseded);
or one that found no lead (kept, unmatched, never dropped).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit

from tether.db.calls import HeldLease, NewCallOutcome
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidPhoneNumber
from tether.domain.events import CallOutcomeReport
from tether.domain.leases import CallOutcome
from tether.domain.model import Lead
from tether.domain.pagination import Page, Position, page_of
from tether.domain.phone import normalize_phone
from tether.observability import logger, metrics
from tether.services.leases import apply_call_outcome

# Providers time a call to the second (Twilio's Timestamp) by their own clocks: a call
# that ended this little before its lease began is still taken as the lease's call.
CLOCK_SKEW = timedelta(minutes=2)

APPLIED = "applied"
LEASE_RELEASED = "lease_released"
SUPERSEDED = "superseded"
UNMATCHED = "unmatched"


def apply_call_report(
    uow: UnitOfWork, tenant_id: UUID, report: CallOutcomeReport, receipt_id: UUID, now: datetime
) -> str:
    """Apply one reported call in the caller's open transaction (the receipt's). Returns
    what became of it, for the log."""
    customer, ours = _e164(report.customer_address), _e164(report.our_address)
    # the lead is locked first: two reports of one call (VAPI's and its carrier's) for
    # one lead are looked at one after the other, and the second finds the first
    lead = _find_lead(uow, tenant_id, report, customer, ours)
    if uow.call_outcomes.recorded(
        tenant_id, report.provider, report.external_id, report.carrier_call_id
    ):
        return "call outcome already recorded"
    record = NewCallOutcome(
        tenant_id=tenant_id,
        receipt_id=receipt_id,
        provider=report.provider,
        call_id=report.external_id,
        carrier_call_id=report.carrier_call_id,
        outcome=report.outcome,
        provider_status=report.provider_status,
        our_address=ours or report.our_address,
        appointment_at=report.appointment_at,
        occurred_at=report.occurred_at,
        state=UNMATCHED,
    )
    if lead is None:
        uow.call_outcomes.add(
            replace(record, reason="no lead has the call's number, and no lead was named")
        )
        metrics.add_metric(name="CallOutcomeUnmatched", unit=MetricUnit.Count, value=1)
        logger.warning("call outcome unmatched", extra={"call_id": report.external_id})
        return "call unmatched"
    lease, state, reason = _lease_of_call(uow, lead, ours, report)
    details = {
        "provider": report.provider,
        "call_id": report.external_id,
        "provider_status": report.provider_status,
        "receipt_id": str(receipt_id),
        **({"note": report.note} if report.note else {}),
    }
    dedupe_key = f"call:{report.provider}:{report.external_id}"
    if lease is None or state != APPLIED:
        uow.call_outcomes.add(
            replace(
                record,
                state=state,
                lead_id=lead.id,
                phone_number_id=lease.phone_number_id if lease else None,
                lease_assigned_at=lease.assigned_at if lease else None,
                reason=reason,
            )
        )
        uow.lead_events.append(
            lead,
            "CALL_OUTCOME",
            dedupe_key,
            payload={
                **details,
                "outcome": report.outcome.value,
                "applied": False,
                "state": state,
                "reason": reason,
                "phone_number": ours,
                "appointment_at": _iso(report.appointment_at),
            },
        )
        metrics.add_metric(name="CallOutcomeNotApplied", unit=MetricUnit.Count, value=1)
        logger.info(
            "call outcome recorded, lease unchanged",
            extra={"lead_id": str(lead.id), "state": state, "reason": reason},
        )
        return f"call {state}"
    release_at = apply_call_outcome(
        uow,
        tenant_id,
        lead.id,
        lease.pool,
        report.outcome,
        now,
        report.appointment_at if report.outcome is CallOutcome.BOOKED else None,
        dedupe_key=dedupe_key,
        details={**details, "applied": True},
        past_appointment_allowed=True,
    )
    uow.call_outcomes.add(
        replace(
            record,
            state=APPLIED,
            lead_id=lead.id,
            phone_number_id=lease.phone_number_id,
            lease_assigned_at=lease.assigned_at,
            release_at=release_at or now,
            reason=report.note,
        )
    )
    metrics.add_metric(name="CallOutcomeApplied", unit=MetricUnit.Count, value=1)
    return f"call {report.outcome.value}: lease {'held' if release_at else 'released'}"


def list_call_outcomes(
    uow: UnitOfWork, after: Position | None, limit: int, state: str | None
) -> Page[dict[str, Any]]:
    """The calls the voice side reported, newest first: `unmatched` ones wait here for
    someone to look at them."""
    with uow:
        rows = uow.call_outcomes.page(after, limit, state)
    return page_of(rows, limit, lambda r: (r["created_at"], r["id"]))


def _find_lead(
    uow: UnitOfWork,
    tenant_id: UUID,
    report: CallOutcomeReport,
    customer: str | None,
    ours: str | None,
) -> Lead | None:
    """The call's lead, locked (before its leases, the order leasing takes them in)."""
    lead_id: UUID | None = None
    if report.lead_id is not None and uow.leads.get(report.lead_id) is not None:
        lead_id = report.lead_id  # another tenant's lead is invisible here (RLS)
    if lead_id is None and ours is not None:
        holder = uow.call_outcomes.holder_of(tenant_id, ours)
        holder_lead = uow.leads.get(holder) if holder else None
        if holder_lead is not None and (customer is None or holder_lead.phone == customer):
            lead_id = holder_lead.id
    if lead_id is None and customer is not None:
        lead_id = uow.call_outcomes.lead_by_phone(tenant_id, customer, ours)
    return uow.leads.get(lead_id, for_update=True) if lead_id is not None else None


def _lease_of_call(
    uow: UnitOfWork, lead: Lead, ours: str | None, report: CallOutcomeReport
) -> tuple[HeldLease | None, str, str | None]:
    """The lease the call was made on, and whether its outcome may move it."""
    held = uow.call_outcomes.held_leases(lead.id)
    if ours is not None:
        matching = [lease for lease in held if lease.phone_number == ours]
    else:  # no number in the report: only an unambiguous lease is the call's
        matching = held if len(held) == 1 else []
    if not matching:
        where = f"from {ours}" if ours else "it could be on"
        return None, LEASE_RELEASED, f"the lead holds no lease {where}: nothing re-leased"
    lease = matching[0]
    if report.occurred_at < lease.assigned_at - CLOCK_SKEW:
        return lease, LEASE_RELEASED, "the call ended before this lease began"
    latest = uow.call_outcomes.latest_applied(lease.phone_number_id, lease.assigned_at)
    if latest is not None and report.occurred_at < latest:
        return lease, SUPERSEDED, "a later call's outcome was applied to the lease first"
    return lease, APPLIED, None


def _e164(address: str | None) -> str | None:
    if not address:
        return None
    try:
        return normalize_phone(address)
    except InvalidPhoneNumber:
        return None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
