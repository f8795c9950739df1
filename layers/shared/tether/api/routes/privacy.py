"""Erasure on request (CCPA/GDPR): /v1/leads/{id}/erase and /v1/erasures (by number)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from tether.api import context, scopes
from tether.api.openapi import responses
from tether.api.schemas import ErasureRequest, ErasureResult
from tether.domain.erasure import ErasureReport
from tether.services import erasure

router = Router()  # type: ignore[no-untyped-call]

_KEPT = (
    " Kept: the lead's row, number, state and counts, each message's addresses, number"
    " and assignment (the hard-rule binding), and an opt-out as a hash of tenant and"
    " number, so an erased person who opted out stays opted out. Erasing again clears"
    " only what arrived since; one audit row names the key that asked."
)


def _result(report: ErasureReport) -> ErasureResult:
    return ErasureResult(phone_hash=report.phone_hash, erased=report.counts)


def _actor() -> str:
    return f"api_key:{context.scope().principal.key_id}"


@router.post(
    "/leads/<lead_id>/erase",
    openapi_extensions=scopes.ADMIN,
    tags=["privacy"],
    summary="Erase the person a lead is: names, email, custom data, texts, raw webhooks",
    description="Everything under the lead's number in this tenant is cleared." + _KEPT,
    responses=responses(200, 404),
)
def erase_lead(lead_id: Annotated[UUID, Path()]) -> ErasureResult:
    return _result(erasure.erase_lead(context.tenant_uow(), lead_id, _actor(), context.now()))


@router.post(
    "/erasures",
    openapi_extensions=scopes.ADMIN,
    tags=["privacy"],
    summary="Erase whoever a number is, lead or no lead",
    description="The number is read as the tenant's default region writes it." + _KEPT,
    responses=responses(200),
)
def erase_phone(body: ErasureRequest) -> ErasureResult:
    return _result(
        erasure.erase_phone(
            context.tenant_uow(), context.tenant_id(), body.phone, _actor(), context.now()
        )
    )
