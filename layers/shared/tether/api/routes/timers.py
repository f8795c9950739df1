"""/v1/escalations and /v1/leads/{id}/timers: what a tenant's 7/14/30-day timers do,
and a lead's timers (a follow-up or callback set by hand, one cancelled)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from tether.api import context, scopes
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import IdempotencyKey
from tether.api.schemas import (
    EscalationMap,
    EscalationStep,
    EscalationStepRequest,
    EscalationTimer,
    Timer,
    TimerList,
    TimerRequest,
    TimersCancelled,
    TimerTypeName,
)
from tether.domain.timers import Action, TimerType
from tether.domain.timers import EscalationStep as Step
from tether.services import timers

router = Router()  # type: ignore[no-untyped-call]
LeadId = Annotated[UUID, Path()]
EscalationType = Annotated[EscalationTimer, Path()]
TimerTypePath = Annotated[TimerTypeName, Path()]


def _map(steps: list[Step]) -> EscalationMap:
    return EscalationMap(
        steps=[
            EscalationStep(
                timer_type=step.timer_type.value,
                action=step.action.value,
                campaign_id=step.campaign_id,
                configured=step.configured,
            )
            for step in steps
        ]
    )


@router.get(
    "/escalations",
    openapi_extensions=scopes.READ,
    tags=["timers"],
    summary="What an unanswered lead's 7-, 14- and 30-day timers do (defaults included)",
    responses=responses(200),
)
def get_escalations() -> EscalationMap:
    return _map(timers.escalation_map(context.tenant_uow()))


@router.put(
    "/escalations/<timer_type>",
    openapi_extensions=scopes.ADMIN,
    tags=["timers"],
    summary="Set what one escalation timer does: move to a campaign, follow up, or close",
    responses=responses(200, 404),
)
def put_escalation(timer_type: EscalationType, body: EscalationStepRequest) -> EscalationMap:
    steps = timers.set_escalation_step(
        context.tenant_uow(),
        context.tenant_id(),
        TimerType(timer_type),
        Action(body.action),
        body.campaign_id,
    )
    return _map(steps)


@router.delete(
    "/escalations/<timer_type>",
    openapi_extensions=scopes.ADMIN,
    tags=["timers"],
    summary="Put one escalation timer back to its default",
    responses=responses(200, 404),
)
def delete_escalation(timer_type: EscalationType) -> EscalationMap:
    return _map(timers.remove_escalation_step(context.tenant_uow(), TimerType(timer_type)))


@router.get(
    "/leads/<lead_id>/timers",
    openapi_extensions=scopes.READ,
    tags=["timers"],
    summary="The lead's timers, pending and past, newest first",
    responses=responses(200, 404),
)
def list_timers(lead_id: LeadId) -> TimerList:
    rows = timers.lead_timers(context.tenant_uow(), lead_id)
    return TimerList(items=[Timer.model_validate(row) for row in rows])


@router.post(
    "/leads/<lead_id>/timers",
    openapi_extensions=scopes.WRITE,
    status_code=201,
    tags=["timers"],
    summary="Set one of the lead's timers (a callback at a time, a follow-up); a pending one moves",
    responses=responses(201, 404, 409),
    middlewares=[idempotent],
)
def set_timer(lead_id: LeadId, body: TimerRequest, idempotency_key: IdempotencyKey = None) -> Timer:
    row = timers.schedule_timer(
        context.tenant_uow(), lead_id, TimerType(body.timer_type), body.trigger_at
    )
    return Timer.model_validate(row)


@router.delete(
    "/leads/<lead_id>/timers/<timer_type>",
    openapi_extensions=scopes.WRITE,
    tags=["timers"],
    summary="Cancel the lead's pending timer of this type",
    responses=responses(200, 404),
)
def cancel_timer(lead_id: LeadId, timer_type: TimerTypePath) -> TimersCancelled:
    cancelled = timers.cancel_lead_timer(
        context.tenant_uow(), lead_id, TimerType(timer_type), context.now()
    )
    return TimersCancelled(cancelled=cancelled)
