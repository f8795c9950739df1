"""/v1/campaigns: create, read with progress, stage, pause, resume, and import leads
into one (JSON or CSV). Launches: tether.api.routes.launches."""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from tether.api import context, scopes
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import (
    Assignment,
    Campaign,
    ImportResult,
    LeadImport,
    NewCampaign,
    Page,
    Progress,
    RejectedLead,
    StagedCampaign,
    StageRequest,
)
from tether.domain.campaigns import Campaign as CampaignEntity
from tether.domain.campaigns import CampaignProgress
from tether.domain.errors import InvalidInput
from tether.domain.lead_import import LeadRow, rows_from_csv
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.services import campaigns
from tether.services.lead_import import ImportReport, import_leads

router = Router()  # type: ignore[no-untyped-call]
CampaignId = Annotated[UUID, Path()]


def _campaign(campaign: CampaignEntity, progress: CampaignProgress | None = None) -> Campaign:
    return Campaign.model_validate(
        {
            **asdict(campaign),
            "status": campaign.status.value,
            "progress": Progress.model_validate(asdict(progress)) if progress is not None else None,
        }
    )


@router.post(
    "/campaigns",
    openapi_extensions=scopes.WRITE,
    status_code=201,
    tags=["campaigns"],
    summary="Create a campaign (workspace stage, AI worker, pool, template)",
    responses=responses(201, 409),
    middlewares=[idempotent],
)
def create_campaign(body: NewCampaign, idempotency_key: IdempotencyKey = None) -> Campaign:
    row = campaigns.create_campaign(
        context.tenant_uow(),
        context.tenant_id(),
        body.name,
        body.workspace_stage,
        body.ai_worker,
        body.pool,
        body.template,
    )
    return _campaign(row)


@router.get(
    "/campaigns",
    openapi_extensions=scopes.READ,
    tags=["campaigns"],
    summary="List campaigns",
    responses=responses(),
)
def list_campaigns(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[Campaign]:
    page = campaigns.list_campaigns(context.tenant_uow(), decode_position(cursor), limit)
    return Page[Campaign](items=[_campaign(r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/campaigns/<campaign_id>",
    openapi_extensions=scopes.READ,
    tags=["campaigns"],
    summary="A campaign with its progress counts",
    responses=responses(200, 404),
)
def get_campaign(campaign_id: CampaignId) -> Campaign:
    row, progress = campaigns.campaign_with_progress(context.tenant_uow(), campaign_id)
    return _campaign(row, progress)


@router.post(
    "/campaigns/<campaign_id>/stage",
    openapi_extensions=scopes.WRITE,
    tags=["campaigns"],
    summary="Stage the campaign on a primary number (and rotation numbers) of its pool",
    responses=responses(200, 404, 409),
)
def stage_campaign(campaign_id: CampaignId, body: StageRequest) -> StagedCampaign:
    row, assignments = campaigns.stage(
        context.tenant_uow(), campaign_id, body.rotation_numbers, context.now()
    )
    return StagedCampaign(
        campaign=_campaign(row), assignments=[Assignment.model_validate(a) for a in assignments]
    )


@router.post(
    "/campaigns/<campaign_id>/pause",
    openapi_extensions=scopes.WRITE,
    tags=["campaigns"],
    summary="Pause: sends not yet with a provider wait until resumed",
    responses=responses(200, 404, 409),
)
def pause_campaign(campaign_id: CampaignId) -> Campaign:
    row = campaigns.pause_campaign(context.tenant_uow(), campaign_id, context.now())
    return _campaign(row)


@router.post(
    "/campaigns/<campaign_id>/resume",
    openapi_extensions=scopes.WRITE,
    tags=["campaigns"],
    summary="Resume: the held sends go out again, and a paused launch carries on",
    responses=responses(200, 404, 409),
)
def resume_campaign(campaign_id: CampaignId) -> Campaign:
    row = campaigns.resume_campaign(
        context.tenant_uow(),
        context.tenant_id(),
        campaign_id,
        context.now(),
        context.queue(),
        context.launch_queue(),
    )
    return _campaign(row)


def _import_result(report: ImportReport) -> ImportResult:
    return ImportResult(
        imported=report.imported,
        merged=report.merged,
        rejected=[RejectedLead(row=r.row, value=r.value, reason=r.reason) for r in report.rejected],
    )


@router.post(
    "/campaigns/<campaign_id>/leads",
    openapi_extensions=scopes.WRITE,
    tags=["leads"],
    summary="Import leads (JSON): phones normalised, bad rows reported, duplicates merged",
    responses=responses(200, 404, 409),
    middlewares=[idempotent],
)
def import_json(
    campaign_id: CampaignId, body: LeadImport, idempotency_key: IdempotencyKey = None
) -> ImportResult:
    rows = [
        LeadRow(
            phone=lead.phone,
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            timezone=lead.timezone,
            attributes=dict(lead.attributes),
        )
        for lead in body.leads
    ]
    report = import_leads(context.tenant_uow(), context.tenant_id(), campaign_id, rows)
    return _import_result(report)


@router.post(
    "/campaigns/<campaign_id>/leads/csv",
    tags=["leads"],
    summary="Import leads (CSV with a header row naming a phone column)",
    responses=responses(200, 404, 409),
    middlewares=[idempotent],
    openapi_extensions={
        **scopes.WRITE,
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "phone,first_name,email\n(415) 555-0134,Ana,ana@example.com\n",
                }
            },
        },
    },
)
def import_csv(campaign_id: CampaignId, idempotency_key: IdempotencyKey = None) -> ImportResult:
    rows = rows_from_csv(_text_body())
    report = import_leads(context.tenant_uow(), context.tenant_id(), campaign_id, rows)
    return _import_result(report)


def _text_body() -> str:
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise InvalidInput("the body is not UTF-8 text") from error
    if "\x00" in body:
        raise InvalidInput("the body contains NUL characters")
    return body
