"""/v1/api-keys: the tenant's keys: issue another, list, revoke."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from tether.api import context
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import ApiKey, IssuedApiKey, NewApiKey, Page
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.services import api_keys

router = Router()  # type: ignore[no-untyped-call]


@router.post(
    "/api-keys",
    status_code=201,
    tags=["api keys"],
    summary="Issue another API key (shown once)",
    responses=responses(201, 409),
    middlewares=[idempotent],
)
def issue_key(body: NewApiKey, idempotency_key: IdempotencyKey = None) -> IssuedApiKey:
    with context.tenant_uow() as uow:
        issued = api_keys.issue_key(uow, context.tenant_id(), body.name)
    return IssuedApiKey(
        id=issued.id,
        name=issued.name,
        prefix=issued.prefix,
        key=issued.key,
        created_at=issued.created_at,
    )


@router.get(
    "/api-keys", tags=["api keys"], summary="List the tenant's API keys", responses=responses()
)
def list_keys(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[ApiKey]:
    with context.tenant_uow() as uow:
        page = api_keys.list_keys(uow, decode_position(cursor), limit)
    return Page[ApiKey](
        items=[ApiKey.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/api-keys/<key_id>/revoke",
    tags=["api keys"],
    summary="Revoke an API key at once",
    responses=responses(200, 404),
)
def revoke_key(key_id: Annotated[UUID, Path()]) -> ApiKey:
    with context.tenant_uow() as uow:
        row = api_keys.revoke_key(uow, key_id, context.now())
    return ApiKey.model_validate(row)
