"""Provider accounts, numbers and pools as the API manages them (registration and
retirement themselves are services.numbers)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from tether.config import StageSettings, stage_settings
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import ConfigurationError, InvalidInput, NotFound
from tether.domain.pagination import Page, Position, page_of
from tether.domain.provider_endpoints import check_provider_endpoints
from tether.observability import logger
from tether.providers import ProviderError
from tether.secrets import (
    LOCAL_PREFIX,
    PREVIOUS_VERSION,
    SecretKind,
    SecretStore,
    secret_name,
)
from tether.services.numbers import NumberRow, RegistrationReport, store_numbers


def create_provider_account(
    uow: UnitOfWork,
    store: SecretStore,
    tenant_id: UUID,
    account: NewAccount,
) -> dict[str, Any]:
    """An account of an SMS provider. Its secrets are given as values and written to
    Secrets Manager under the tenant's path (tether.secrets); the database keeps their
    names only. A registration that fails leaves no secret behind."""
    stage = _stage()
    name = account.name.strip()
    if not name:
        raise InvalidInput("the account needs a name")
    if account.credentials is not None:
        _check_credentials(account.provider, account.credentials, stage.is_local)
    else:
        check_provider_endpoints(account.provider, {}, local_stage=stage.is_local)
    account_id = uuid4()
    written: list[str] = []
    try:
        refs: dict[SecretKind, str] = {}
        for kind, value in _secret_values(account.credentials, account.signing_secret):
            secret = secret_name(stage.tether_stage, tenant_id, account_id, kind)
            store.put(secret, value, tenant_id=tenant_id, stage=stage.tether_stage)
            written.append(secret)
            refs[kind] = secret
        with uow:
            row = uow.inventory.add_account(
                account_id,
                tenant_id,
                account.provider,
                name,
                account.external_account_id,
                refs.get("signing-secret"),
                refs.get("credentials"),
            )
            uow.commit()
    except BaseException:
        for secret in written:
            store.delete(secret)
        raise
    logger.info("provider account created", extra={"provider_account_id": str(account_id)})
    return row


def rotate_provider_secrets(
    uow: UnitOfWork,
    store: SecretStore,
    tenant_id: UUID,
    account_id: UUID,
    rotation: SecretRotation,
    now: datetime,
) -> dict[str, Any]:
    """New credentials and/or a new signing secret for an account. The replaced signing
    secret keeps verifying webhooks for `rotation.previous_valid` (its AWSPREVIOUS
    version), so providers can be switched over without a lost event."""
    if rotation.credentials is None and rotation.signing_secret is None:
        raise InvalidInput("give credentials, signing_secret or both")
    stage = _stage()
    with uow:
        row = _rotate(uow, store, stage, tenant_id, account_id, rotation, now)
        uow.commit()
    logger.info(
        "provider account secrets rotated",
        extra={
            "provider_account_id": str(account_id),
            "rotated": sorted(
                kind for kind, _ in _secret_values(rotation.credentials, rotation.signing_secret)
            ),
        },
    )
    return row


def _rotate(
    uow: UnitOfWork,
    store: SecretStore,
    stage: StageSettings,
    tenant_id: UUID,
    account_id: UUID,
    rotation: SecretRotation,
    now: datetime,
) -> dict[str, Any]:
    """The secrets written, then the account's references to them (the account locked)."""
    current = uow.inventory.account_for_update(account_id)
    if current is None:
        raise NotFound("provider account", account_id)
    provider = current.provider
    if rotation.credentials is not None:
        _check_credentials(provider, rotation.credentials, stage.is_local)
    refs: dict[SecretKind, str] = {}
    existed: dict[SecretKind, bool] = {}
    for kind, value in _secret_values(rotation.credentials, rotation.signing_secret):
        secret = secret_name(stage.tether_stage, tenant_id, account_id, kind)
        existed[kind] = store.put(secret, value, tenant_id=tenant_id, stage=stage.tether_stage)
        refs[kind] = secret
    previous_ref: str | None = None
    signing = refs.get("signing-secret")
    old = current.signing_secret_ref
    if signing is not None and rotation.previous_valid > timedelta(0) and old:
        if old == signing and existed["signing-secret"]:
            previous_ref = signing + PREVIOUS_VERSION
        elif old.startswith(LOCAL_PREFIX):
            previous_ref = old
    return uow.inventory.set_secret_refs(
        account_id,
        credentials_ref=refs.get("credentials"),
        signing_secret_ref=signing,
        previous_signing_secret_ref=previous_ref,
        previous_secret_expires_at=now + rotation.previous_valid if previous_ref else None,
    )


@dataclass(frozen=True)
class NewAccount:
    provider: str
    name: str
    external_account_id: str | None = None
    credentials: Mapping[str, str] | None = None
    signing_secret: str | None = None


@dataclass(frozen=True)
class SecretRotation:
    credentials: Mapping[str, str] | None = None
    signing_secret: str | None = None
    previous_valid: timedelta = timedelta(hours=24)


def _stage() -> StageSettings:
    stage = stage_settings()
    if not re.fullmatch(r"[a-z0-9]+", stage.tether_stage):
        raise ConfigurationError("TETHER_STAGE is not set: provider secrets have no path")
    return stage


def _secret_values(
    credentials: Mapping[str, str] | None, signing_secret: str | None
) -> list[tuple[SecretKind, str]]:
    values: list[tuple[SecretKind, str]] = []
    if credentials is not None:
        values.append(("credentials", json.dumps(dict(credentials), sort_keys=True)))
    if signing_secret is not None:
        values.append(("signing-secret", signing_secret))
    return values


def _check_credentials(provider: str, credentials: Mapping[str, str], local_stage: bool) -> None:
    """Refuse credentials the provider adapter could never send with (missing keys, a
    host this stage does not send to) now, rather than at the first send."""
    from tether.providers import provider_for  # the adapters, when an account is added

    check_provider_endpoints(provider, credentials, local_stage=local_stage)
    try:
        provider_for(provider, credentials, credentials.get("base_url"), local_stage=local_stage)
    except ProviderError as error:
        raise InvalidInput(f"credentials for {provider}: {error.reason}") from error


def list_provider_accounts(
    uow: UnitOfWork, after: Position | None, limit: int
) -> Page[dict[str, Any]]:
    with uow:
        rows = uow.inventory.accounts(after, limit)
    return page_of(rows, limit, lambda r: (r["created_at"], r["id"]))


def register(
    uow: UnitOfWork,
    tenant_id: UUID,
    provider_account_id: UUID,
    pool: str,
    rows: list[NumberRow],
    ai_worker: str | None,
    whatsapp: bool = False,
) -> RegistrationReport:
    with uow:
        report = store_numbers(uow, tenant_id, provider_account_id, pool, rows)
        if ai_worker is not None and report.stored:
            uow.numbers.set_worker(tenant_id, report.stored, ai_worker)
        if whatsapp and report.stored:
            uow.inventory.set_whatsapp(
                uow.inventory.number_ids(tenant_id, report.stored), enabled=True
            )
        uow.commit()
    return report


def set_whatsapp_sender(uow: UnitOfWork, number_id: UUID, enabled: bool) -> dict[str, Any]:
    """Say whether a number is a WhatsApp sender at its provider. Switching it off leaves
    the campaigns it is the WhatsApp sender of as they are (their sends fail at the
    provider until another sender is assigned)."""
    with uow:
        rows = uow.inventory.set_whatsapp([number_id], enabled)
        if not rows:
            raise NotFound("phone number", number_id)
        uow.commit()
    logger.info(
        "whatsapp sender set", extra={"phone_number_id": str(number_id), "enabled": enabled}
    )
    return rows[0]


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
    with uow:
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
    with uow:
        return uow.inventory.pool_health()
