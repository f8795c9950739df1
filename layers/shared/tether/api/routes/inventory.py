"""/v1/provider-accounts, /v1/phone-numbers, /v1/pools: what the tenant sends with."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from tether.api import context, scopes
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import (
    LeadToRehome,
    NewProviderAccount,
    NumberRegistration,
    Page,
    PhoneNumber,
    PoolHealth,
    PoolHealthList,
    ProviderAccount,
    ProviderAccountSecrets,
    RegistrationResult,
    RejectedRow,
    RetiredNumber,
    Text,
    WhatsAppSender,
)
from tether.domain.calls import VOICE_WEBHOOK_PROVIDER_NAMES
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.services import inventory
from tether.services.numbers import NumberRow, retire_number

router = Router()  # type: ignore[no-untyped-call]


def _account(row: dict[str, object]) -> ProviderAccount:
    provider, account_id = row["provider"], row["id"]
    voice = (
        f"/webhooks/voice/{provider}/{account_id}"
        if provider in VOICE_WEBHOOK_PROVIDER_NAMES
        else None
    )
    return ProviderAccount.model_validate(
        {
            **row,
            # a VAPI account has only the voice route
            "webhook_path": voice if provider == "vapi" else f"/webhooks/{provider}/{account_id}",
            "voice_webhook_path": voice,
        }
    )


@router.post(
    "/provider-accounts",
    openapi_extensions=scopes.ADMIN,
    status_code=201,
    tags=["provider accounts"],
    summary="Add an SMS provider account; its secrets go to Secrets Manager, never the database",
    responses=responses(201, 409),
    middlewares=[idempotent],
)
def create_provider_account(
    body: NewProviderAccount, idempotency_key: IdempotencyKey = None
) -> ProviderAccount:
    row = inventory.create_provider_account(
        context.tenant_uow(),
        context.secrets(),
        context.tenant_id(),
        inventory.NewAccount(
            provider=body.provider,
            name=body.name,
            external_account_id=body.external_account_id,
            credentials=body.credentials,
            signing_secret=body.signing_secret,
        ),
    )
    return _account(row)


@router.put(
    "/provider-accounts/<account_id>/secrets",
    tags=["provider accounts"],
    summary="Rotate an account's credentials and/or signing secret (retry with the same"
    " Idempotency-Key: a second rotation would end the replaced secret's grace)",
    responses=responses(200, 404, 409),
    openapi_extensions=scopes.ADMIN,
    middlewares=[idempotent],
)
def rotate_provider_secrets(
    account_id: Annotated[UUID, Path()],
    body: ProviderAccountSecrets,
    idempotency_key: IdempotencyKey = None,
) -> ProviderAccount:
    row = inventory.rotate_provider_secrets(
        context.tenant_uow(),
        context.secrets(),
        context.tenant_id(),
        account_id,
        inventory.SecretRotation(
            credentials=body.credentials,
            signing_secret=body.signing_secret,
            previous_valid=timedelta(hours=body.previous_secret_valid_hours),
        ),
        context.now(),
    )
    return _account(row)


@router.get(
    "/provider-accounts",
    openapi_extensions=scopes.READ,
    tags=["provider accounts"],
    summary="List provider accounts",
    responses=responses(),
)
def list_provider_accounts(
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[ProviderAccount]:
    page = inventory.list_provider_accounts(context.tenant_uow(), decode_position(cursor), limit)
    return Page[ProviderAccount](
        items=[_account(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/phone-numbers",
    openapi_extensions=scopes.WRITE,
    tags=["phone numbers"],
    summary="Register numbers in a pool: every row stored or rejected with its reason",
    responses=responses(200, 404, 409),
    middlewares=[idempotent],
)
def register_numbers(
    body: NumberRegistration, idempotency_key: IdempotencyKey = None
) -> RegistrationResult:
    rows = [NumberRow(entry.number, entry.label) for entry in body.numbers]
    report = inventory.register(
        context.tenant_uow(),
        context.tenant_id(),
        body.provider_account_id,
        body.pool,
        rows,
        body.ai_worker,
        body.whatsapp,
    )
    return RegistrationResult(
        stored=report.stored,
        already_registered=report.already_registered,
        rejected=[RejectedRow(row=r.row, value=r.value, reason=r.reason) for r in report.rejected],
    )


@router.get(
    "/phone-numbers",
    openapi_extensions=scopes.READ,
    tags=["phone numbers"],
    summary="List numbers, newest first, by pool, status, lease or account",
    responses=responses(),
)
def list_numbers(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    pool: Annotated[Text | None, Query(max_length=100)] = None,
    status: Annotated[Literal["active", "retired"] | None, Query()] = None,
    assignment_status: Annotated[Literal["available", "assigned"] | None, Query()] = None,
    provider_account_id: Annotated[UUID | None, Query()] = None,
) -> Page[PhoneNumber]:
    page = inventory.list_numbers(
        context.tenant_uow(),
        decode_position(cursor),
        limit,
        pool=pool,
        status=status,
        assignment_status=assignment_status,
        provider_account_id=provider_account_id,
    )
    return Page[PhoneNumber](
        items=[PhoneNumber.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.put(
    "/phone-numbers/<number_id>/whatsapp",
    openapi_extensions=scopes.WRITE,
    tags=["phone numbers"],
    summary="Say whether the number is a WhatsApp sender at its provider (Twilio, Telnyx)",
    responses=responses(200, 404),
)
def set_whatsapp(number_id: Annotated[UUID, Path()], body: WhatsAppSender) -> PhoneNumber:
    row = inventory.set_whatsapp_sender(context.tenant_uow(), number_id, body.enabled)
    return PhoneNumber.model_validate(row)


@router.post(
    "/phone-numbers/<number_id>/retire",
    openapi_extensions=scopes.WRITE,
    tags=["phone numbers"],
    summary="Retire a number: its lease released, the leads bound to it listed for re-homing",
    responses=responses(200, 404),
)
def retire(number_id: Annotated[UUID, Path()]) -> RetiredNumber:
    retired = retire_number(context.tenant_uow(), number_id, context.now())
    return RetiredNumber(
        number=retired.number,
        released_lease=retired.released_lease,
        leads_to_rehome=[
            LeadToRehome(lead_id=lead, campaign_id=campaign)
            for lead, campaign in retired.leads_to_rehome
        ],
    )


@router.get(
    "/pools",
    openapi_extensions=scopes.READ,
    tags=["phone numbers"],
    summary="Pool health: numbers free, leased, resting, in all",
    responses=responses(),
)
def pools() -> PoolHealthList:
    rows = inventory.pool_health(context.tenant_uow())
    return PoolHealthList(pools=[PoolHealth.model_validate(r) for r in rows])
