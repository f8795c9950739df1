"""/v1/consents: the consent log (record a grant or a revocation with its evidence, read
it), and /v1/leads/{id}/resubscribe: a suppressed lead freed by a newer consent."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from tether.api import context, scopes
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import (
    Channel,
    ConsentIn,
    ConsentOut,
    Lead,
    Page,
    ResubscribeRequest,
    Text,
)
from tether.domain.consent import ConsentEvidence, ConsentKind, SourceType
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.services import consent

router = Router()  # type: ignore[no-untyped-call]


def _actor() -> str:
    return f"api_key:{context.scope().principal.key_id}"


@router.post(
    "/consents",
    openapi_extensions=scopes.WRITE,
    status_code=201,
    tags=["consent"],
    summary="Record a consent (or its revocation) with its evidence",
    description=(
        "The log is append-only: a revocation is a row of its own, and also suppresses the"
        " phone tenant-wide. What is in force is the phone's latest row on the channel."
    ),
    responses=responses(201, 404, 409),
    middlewares=[idempotent],
)
def record_consent(body: ConsentIn, idempotency_key: IdempotencyKey = None) -> ConsentOut:
    recorded = consent.record_consent(
        context.tenant_uow(),
        context.tenant_id(),
        consent.ConsentRequest(
            body.phone,
            body.channel,
            ConsentKind(body.kind),
            ConsentEvidence(
                SourceType(body.source_type),
                body.source,
                body.consented_at,
                body.disclosure_text,
                body.ip,
                body.user_agent,
                body.evidence_ref,
            ),
            body.lead_id,
        ),
        _actor(),
        context.now(),
    )
    return ConsentOut.model_validate(recorded, from_attributes=True)


@router.get(
    "/consents",
    openapi_extensions=scopes.READ,
    tags=["consent"],
    summary="The consent log, newest first, by phone and channel",
    responses=responses(),
)
def list_consents(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    phone: Annotated[Text | None, Query(max_length=64)] = None,
    channel: Annotated[Channel | None, Query()] = None,
) -> Page[ConsentOut]:
    page = consent.list_consents(
        context.tenant_uow(),
        context.tenant_id(),
        decode_position(cursor),
        limit,
        phone=phone,
        channel=channel,
    )
    return Page[ConsentOut](
        items=[ConsentOut.model_validate(c, from_attributes=True) for c in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/leads/<lead_id>/resubscribe",
    openapi_extensions=scopes.WRITE,
    tags=["leads"],
    summary="Re-subscribe a suppressed lead with a consent its phone gave after the suppression",
    description=(
        "The lead moves to responded, with a RESUBSCRIBED event naming the consent; the"
        " phone's tenant-wide opt-outs and do-not-contact entries older than the consent are"
        " lifted. A consent older than the suppression answers 422; a lead that is not"
        " suppressed 409. The lead's own START/UNSTOP text does the same by itself."
    ),
    responses=responses(200, 404, 409),
)
def resubscribe(lead_id: Annotated[UUID, Path()], body: ResubscribeRequest) -> Lead:
    row = consent.resubscribe_lead(
        context.tenant_uow(), context.tenant_id(), lead_id, body.consent_id, _actor()
    )
    return Lead.model_validate(row)
