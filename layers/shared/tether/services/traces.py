"""Seed 000's traceability chain of a lead: campaign → assignment → every message with
its number, provider SID and status history → the lead's events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import NotFound
from tether.domain.pagination import Page, Position, page_of
from tether.domain.phone import normalize_or_keep
from tether.services.media import with_attachments

MAX_TRACE_ROWS = 1000


@dataclass(frozen=True, slots=True)
class LeadTrace:
    lead: dict[str, Any]
    bindings: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]


def list_leads(
    uow: UnitOfWork,
    after: Position | None,
    limit: int,
    *,
    campaign_id: UUID | None,
    phone: str | None,
    state: str | None,
    region: str = "US",
) -> Page[dict[str, Any]]:
    """The tenant's leads, newest first; `phone` is matched exactly once normalised."""
    wanted = normalize_or_keep(phone, region) if phone else None
    with uow:
        rows = uow.leads.page(after, limit, campaign_id=campaign_id, phone=wanted, state=state)
    return page_of(rows, limit, lambda r: (r["created_at"], r["id"]))


def get_lead(uow: UnitOfWork, lead_id: UUID) -> dict[str, Any]:
    with uow:
        return _lead_view(uow, lead_id)


def lead_trace(uow: UnitOfWork, tenant_id: UUID, lead_id: UUID) -> LeadTrace:
    """The chain as one consistent read (one transaction)."""
    with uow:
        return LeadTrace(
            _lead_view(uow, lead_id),
            uow.leads.trace_bindings(lead_id),
            with_attachments(uow, uow.leads.trace_messages(tenant_id, lead_id, MAX_TRACE_ROWS)),
            uow.lead_events.page_for_lead(tenant_id, lead_id, MAX_TRACE_ROWS),
        )


def _lead_view(uow: UnitOfWork, lead_id: UUID) -> dict[str, Any]:
    lead = uow.leads.view(lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    return lead
