"""/v1/campaigns/{id}/stats and /v1/phone-numbers/{id}/stats: results (what each figure
counts: tether.domain.stats)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from tether.api import context, scopes
from tether.api.openapi import responses
from tether.api.schemas import Results
from tether.domain import stats as domain
from tether.services import stats

router = Router()  # type: ignore[no-untyped-call]


def _results(results: domain.Results) -> Results:
    return Results.model_validate(
        {
            "overall": asdict(results.overall),
            "by_variant": {name: asdict(f) for name, f in results.by_variant.items()},
        }
    )


@router.get(
    "/campaigns/<campaign_id>/stats",
    openapi_extensions=scopes.READ,
    tags=["campaigns"],
    summary="The campaign's results: sent, delivered, failed by kind, replies, opt-outs,"
    " overall and per variant",
    responses=responses(200, 404),
)
def campaign_stats(campaign_id: Annotated[UUID, Path()]) -> Results:
    return _results(stats.campaign_results(context.tenant_uow(), campaign_id))


@router.get(
    "/phone-numbers/<number_id>/stats",
    openapi_extensions=scopes.READ,
    tags=["phone numbers"],
    summary="The number's results across its campaigns, overall and per variant",
    responses=responses(200, 404),
)
def number_stats(number_id: Annotated[UUID, Path()]) -> Results:
    return _results(stats.number_results(context.tenant_uow(), number_id))
