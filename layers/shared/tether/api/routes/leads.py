"""/v1/leads/{id}: a lead, its trace (seed 000), its number lease and call outcomes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from tether.api import context, scopes
from tether.api.attachments import with_attachment_views
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import (
    CallOutcomeRequest,
    CallOutcomeResult,
    Lead,
    LeadStateName,
    LeadTrace,
    LeadUpdate,
    Lease,
    LeaseRequest,
    Page,
    Text,
    TraceBinding,
    TraceEvent,
    TraceMessage,
)
from tether.domain.leases import CallOutcome
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.services import lead_calls, lead_details, traces

router = Router()  # type: ignore[no-untyped-call]
LeadId = Annotated[UUID, Path()]


@router.get(
    "/leads",
    openapi_extensions=scopes.READ,
    tags=["leads"],
    summary="List leads, newest first, by campaign, phone or state",
    responses=responses(),
)
def list_leads(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    campaign_id: Annotated[UUID | None, Query()] = None,
    phone: Annotated[Text | None, Query(max_length=64)] = None,
    state: Annotated[LeadStateName | None, Query()] = None,
) -> Page[Lead]:
    page = traces.list_leads(
        context.tenant_uow(),
        decode_position(cursor),
        limit,
        campaign_id=campaign_id,
        phone=phone,
        state=state,
    )
    return Page[Lead](
        items=[Lead.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/leads/<lead_id>",
    openapi_extensions=scopes.READ,
    tags=["leads"],
    summary="A lead",
    responses=responses(200, 404),
)
def get_lead(lead_id: LeadId) -> Lead:
    row = traces.get_lead(context.tenant_uow(), lead_id)
    return Lead.model_validate(row)


@router.patch(
    "/leads/<lead_id>",
    openapi_extensions=scopes.WRITE,
    tags=["leads"],
    summary="Correct a lead's names, email, company, time zone or custom fields",
    description=(
        "Only the fields given change; null clears one. `attributes` are merged into the"
        " lead's custom fields (null removes one). Audited by the names of the fields"
        " changed, not their values."
    ),
    responses=responses(200, 404),
)
def patch_lead(lead_id: LeadId, body: LeadUpdate) -> Lead:
    changes = body.model_dump(exclude_unset=True)
    custom = changes.pop("attributes", None) or {}
    row = lead_details.update_lead(
        context.tenant_uow(),
        context.tenant_id(),
        lead_id,
        changes,
        custom,
        f"api_key:{context.scope().principal.key_id}",
    )
    return Lead.model_validate(row)


@router.get(
    "/leads/<lead_id>/trace",
    openapi_extensions=scopes.READ,
    tags=["leads"],
    summary="Campaign → assignment → every message (number, SID, status history) → lead events",
    responses=responses(200, 404),
)
def trace(lead_id: LeadId) -> LeadTrace:
    found = traces.lead_trace(context.tenant_uow(), context.tenant_id(), lead_id)
    return LeadTrace(
        lead=Lead.model_validate(found.lead),
        bindings=[TraceBinding.model_validate(b) for b in found.bindings],
        messages=[TraceMessage.model_validate(m) for m in with_attachment_views(found.messages)],
        events=[TraceEvent.model_validate(e) for e in found.events],
    )


@router.post(
    "/leads/<lead_id>/lease",
    openapi_extensions=scopes.WRITE,
    status_code=201,
    tags=["leases"],
    summary="Lease a number of the pool to the lead for a call (or the one it holds)",
    responses=responses(201, 404, 409),
    middlewares=[idempotent],
)
def lease(lead_id: LeadId, body: LeaseRequest, idempotency_key: IdempotencyKey = None) -> Lease:
    leased = lead_calls.lease_for_lead(
        context.tenant_uow(), context.tenant_id(), lead_id, body.pool, context.now()
    )
    return Lease(
        phone_number_id=leased.phone_number_id,
        phone_number=leased.phone_number,
        lead_id=leased.lead_id,
        pool=leased.pool,
        assigned_at=leased.assigned_at,
        release_at=leased.release_at,
        already_held=leased.already_held,
    )


@router.post(
    "/leads/<lead_id>/call-outcome",
    openapi_extensions=scopes.WRITE,
    tags=["leases"],
    summary="Record a call's outcome: booked (with the appointment), no booking, no answer",
    responses=responses(200, 404),
)
def call_outcome(lead_id: LeadId, body: CallOutcomeRequest) -> CallOutcomeResult:
    release_at = lead_calls.call_outcome_for_lead(
        context.tenant_uow(),
        context.tenant_id(),
        lead_id,
        body.pool,
        CallOutcome(body.outcome),
        context.now(),
        body.appointment_at,
    )
    return CallOutcomeResult(lead_id=lead_id, outcome=body.outcome, release_at=release_at)
