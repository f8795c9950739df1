"""/v1/campaigns: create, read with progress, stage, pause, resume, and import leads
into one (JSON or CSV). Launches: tether.api.routes.launches."""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict
from datetime import datetime
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from tether.api import context, scopes
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import (
    Assignment,
    AssignmentRequest,
    Campaign,
    CampaignUpdate,
    ImportResult,
    LeadImport,
    LeadIn,
    NewCampaign,
    Page,
    Preview,
    PreviewRequest,
    Progress,
    RejectedLead,
    StagedCampaign,
    StageRequest,
    VariantIn,
)
from tether.domain.campaigns import Campaign as CampaignEntity
from tether.domain.campaigns import CampaignProgress
from tether.domain.consent import CONSENT_COLUMNS
from tether.domain.errors import InvalidInput
from tether.domain.lead_import import LeadRow, rows_from_csv
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.domain.templates import Variant
from tether.services import campaigns
from tether.services.lead_import import ConsentAttestation, ImportReport, import_leads
from tether.services.numbers import assign_campaign_sender

router = Router()  # type: ignore[no-untyped-call]
CampaignId = Annotated[UUID, Path()]


def _campaign(campaign: CampaignEntity, progress: CampaignProgress | None = None) -> Campaign:
    return Campaign.model_validate(
        {
            **asdict(campaign),
            "variants": [asdict(v) for v in campaign.sendable_variants()],
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
        sender_name=body.sender_name,
        follow_up_template=body.follow_up_template,
        variants=_variants(body.variants) or (),
    )
    return _campaign(row)


def _variants(given: list[VariantIn] | None) -> tuple[Variant, ...] | None:
    if given is None:
        return None
    return tuple(Variant(v.name, v.template, v.weight) for v in given)


@router.patch(
    "/campaigns/<campaign_id>",
    openapi_extensions=scopes.WRITE,
    tags=["campaigns"],
    summary="Change a campaign's name, and before launch its template, variants,"
    " follow-up template or sender name",
    description=(
        "Only the fields given change. Templates are checked as on create: an unknown"
        " field or an unclosed brace is a 422 naming it and its position. Once launched, a"
        " campaign's texts are fixed (409). Every change is written to the audit log."
    ),
    responses=responses(200, 404, 409),
)
def patch_campaign(campaign_id: CampaignId, body: CampaignUpdate) -> Campaign:
    changes = body.model_dump(exclude_unset=True)  # what was sent, a null included
    variants = None  # not given: unchanged
    if "variants" in changes:
        changes.pop("variants")
        variants = _variants(body.variants) or ()  # null: none
    row = campaigns.update_campaign(
        context.tenant_uow(),
        context.tenant_id(),
        campaign_id,
        changes,
        variants,
        f"api_key:{context.scope().principal.key_id}",
    )
    return _campaign(row)


@router.post(
    "/campaigns/<campaign_id>/preview",
    openapi_extensions=scopes.WRITE,  # changes nothing, but only writers compose texts
    tags=["campaigns"],
    summary="A lead's text from the campaign's template (or one given), with its segments",
    description=(
        "Rendered as a send would render it: the lead's own variant unless `variant` or"
        " `template` is given. Reports the encoding (GSM-7 or UCS-2), the segment count,"
        " and a warning past the tenant's preview_max_segments. A lead lacking a field"
        " with no fallback is a 422 naming the field: its send would be refused."
    ),
    responses=responses(200, 404),
)
def preview(campaign_id: CampaignId, body: PreviewRequest) -> Preview:
    found = campaigns.preview_text(
        context.tenant_uow(),
        context.tenant_id(),
        campaign_id,
        body.lead_id,
        body.template,
        body.variant,
    )
    return Preview(
        text=found.text,
        variant=found.variant,
        encoding="GSM-7" if found.encoding == "GSM-7" else "UCS-2",
        segments=found.segments,
        units=found.units,
        warnings=found.warnings,
    )


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
    "/campaigns/<campaign_id>/assignments",
    openapi_extensions=scopes.WRITE,
    status_code=201,
    tags=["campaigns"],
    summary="Assign one of the tenant's numbers to the campaign on a channel: with channel"
    " 'whatsapp', the campaign's WhatsApp sender (its primary if it has none)",
    responses=responses(201, 404, 409, 422),
)
def assign_number(campaign_id: CampaignId, body: AssignmentRequest) -> Assignment:
    row = assign_campaign_sender(
        context.tenant_uow(), campaign_id, body.phone_number_id, body.channel
    )
    return Assignment.model_validate(row)


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
            company=lead.company,
            consent=_consent_cells(lead),
        )
        for lead in body.leads
    ]
    attestation = body.consent_attestation
    report = import_leads(
        context.tenant_uow(),
        context.tenant_id(),
        campaign_id,
        rows,
        ConsentAttestation(attestation.statement, attestation.source) if attestation else None,
        _actor(),
        context.now(),
    )
    return _import_result(report)


def _consent_cells(lead: LeadIn) -> dict[str, str]:
    """A JSON lead's consent fields as the import's consent columns (one parser for both)."""
    cells = {name: getattr(lead, name) for name in CONSENT_COLUMNS}
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in cells.items()
        if value is not None
    }


def _actor() -> str:
    return f"api_key:{context.scope().principal.key_id}"


@router.post(
    "/campaigns/<campaign_id>/leads/csv",
    tags=["leads"],
    summary="Import leads (CSV with a header row naming a phone column)",
    description=(
        "Known columns: phone, first_name, last_name, email, timezone, and the consent"
        " columns consent_source, consent_at, consent_text, consent_ip, consent_user_agent,"
        " consent_evidence; any other column is an attribute. With require_consent on, every"
        " row needs consent_source and consent_at, or the request a consent_attestation (422)."
    ),
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
def import_csv(
    campaign_id: CampaignId,
    consent_attestation: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2000,
            description="the tenant attests consent for every phone of the file, in these words",
        ),
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> ImportResult:
    rows = rows_from_csv(_text_body())
    report = import_leads(
        context.tenant_uow(),
        context.tenant_id(),
        campaign_id,
        rows,
        ConsentAttestation(consent_attestation) if consent_attestation else None,
        _actor(),
        context.now(),
    )
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
