"""/v1/api-keys: the tenant's keys: issue another, list, revoke."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from tether.api import context, scopes
from tether.api.idempotency import idempotent_never_storing
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import ApiKey, IssuedApiKey, NewApiKey, Page
from tether.domain.api_keys import Scope
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.services import api_keys

router = Router()  # type: ignore[no-untyped-call]


@router.post(
    "/api-keys",
    openapi_extensions=scopes.ADMIN,
    status_code=201,
    tags=["api keys"],
    summary="Issue another API key (shown once)",
    description="The new key's scope is at most the calling key's; the key records which"
    " key issued it. The key is in this answer only: a repeat with the same"
    " Idempotency-Key answers the key's id, prefix and scope with `key` null, since no"
    " copy of the key is kept anywhere.",
    responses=responses(201, 403, 409),
    middlewares=[idempotent_never_storing("key")],
)
def issue_key(body: NewApiKey, idempotency_key: IdempotencyKey = None) -> IssuedApiKey:
    issued = api_keys.issue_key(
        context.tenant_uow(), context.principal(), body.name, Scope(body.scope)
    )
    return IssuedApiKey(
        id=issued.id,
        name=issued.name,
        prefix=issued.prefix,
        scope=issued.scope.value,
        created_by_key_id=issued.created_by_key_id,
        key=issued.key,
        created_at=issued.created_at,
    )


@router.get(
    "/api-keys",
    openapi_extensions=scopes.ADMIN,
    tags=["api keys"],
    summary="List the tenant's API keys",
    responses=responses(),
)
def list_keys(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[ApiKey]:
    page = api_keys.list_keys(context.tenant_uow(), decode_position(cursor), limit)
    return Page[ApiKey](
        items=[ApiKey.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/api-keys/<key_id>/revoke",
    openapi_extensions=scopes.ADMIN,
    tags=["api keys"],
    summary="Revoke an API key at once",
    description="With `descendants=true`, the keys it issued (and those they issued) are"
    " revoked too; without, they keep working. The audit log records each revocation"
    " with the key's issuer either way.",
    responses=responses(200, 404),
)
def revoke_key(
    key_id: Annotated[UUID, Path()],
    descendants: Annotated[
        bool, Query(description="also revoke every key this key issued, down the line")
    ] = False,
) -> ApiKey:
    row = api_keys.revoke_key(
        context.tenant_uow(), context.principal(), key_id, context.now(), descendants=descendants
    )
    return ApiKey.model_validate(row, from_attributes=True)
