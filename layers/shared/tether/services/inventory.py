"""Provider accounts, numbers and pools as the API manages them (registration and
retirement themselves are services.numbers)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput
from tether.domain.pagination import Page, Position, page_of
from tether.observability import logger
from tether.secrets import SECRETS_MANAGER_ARN
from tether.services.numbers import NumberRow, RegistrationReport, register_numbers


def create_provider_account(
    uow: UnitOfWork,
    tenant_id: UUID,
    provider: str,
    name: str,
    external_account_id: str | None,
    signing_secret_ref: str | None,
    credentials_ref: str | None,
) -> dict[str, Any]:
    """An account of an SMS provider. Its secrets are given by reference (a Secrets
    Manager ARN), never as values: a value sent here would sit in the database."""
    for field, ref in (
        ("signing_secret_ref", signing_secret_ref),
        ("credentials_ref", credentials_ref),
    ):
        if ref is not None and not SECRETS_MANAGER_ARN.match(ref):
            raise InvalidInput(
                f"{field} must be a Secrets Manager ARN (arn:aws:secretsmanager:...)"
            )
    if not name.strip():
        raise InvalidInput("the account needs a name")
    row = uow.inventory.add_account(
        tenant_id, provider, name.strip(), external_account_id, signing_secret_ref, credentials_ref
    )
    uow.commit()
    logger.info("provider account created", extra={"provider_account_id": str(row["id"])})
    return row


def list_provider_accounts(
    uow: UnitOfWork, after: Position | None, limit: int
) -> Page[dict[str, Any]]:
    return page_of(
        uow.inventory.accounts(after, limit), limit, lambda r: (r["created_at"], r["id"])
    )


def register(
    uow: UnitOfWork,
    tenant_id: UUID,
    provider_account_id: UUID,
    pool: str,
    rows: list[NumberRow],
    ai_worker: str | None,
) -> RegistrationReport:
    report = register_numbers(uow, tenant_id, provider_account_id, pool, rows)
    if ai_worker is not None and report.stored:
        uow.inventory.set_worker(tenant_id, report.stored, ai_worker)
        uow.commit()
    return report


def list_numbers(
    uow: UnitOfWork,
    after: Position | None,
    limit: int,
    *,
    pool: str | None,
    status: str | None,
    assignment_status: str | None,
    provider_account_id: UUID | None,
) -> Page[dict[str, Any]]:
    rows = uow.inventory.numbers(
        after,
        limit,
        pool=pool,
        status=status,
        assignment_status=assignment_status,
        provider_account_id=provider_account_id,
    )
    return page_of(rows, limit, lambda r: (r["created_at"], r["id"]))


def pool_health(uow: UnitOfWork) -> list[dict[str, Any]]:
    return uow.inventory.pool_health()
