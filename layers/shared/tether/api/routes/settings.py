"""/v1/settings: the tenant's configuration (quiet hours, timer intervals, call
priorities, lease hours, send limits)."""

from __future__ import annotations

from datetime import time

from aws_lambda_powertools.event_handler.api_gateway import Router

from tether.api import context, scopes
from tether.api.openapi import responses
from tether.api.schemas import TenantSettings, TenantSettingsUpdate
from tether.services import settings

router = Router()  # type: ignore[no-untyped-call]


@router.get(
    "/settings",
    openapi_extensions=scopes.READ,
    tags=["settings"],
    summary="The tenant's configuration",
    responses=responses(200),
)
def get_settings() -> TenantSettings:
    return TenantSettings.model_validate(
        settings.tenant_settings(context.tenant_uow(), context.tenant_id()), from_attributes=True
    )


@router.patch(
    "/settings",
    openapi_extensions=scopes.ADMIN,
    tags=["settings"],
    summary="Change some of the tenant's configuration (send null to turn pacing or the daily cap off)",
    description=(
        "Quiet hours may only be narrowed: quiet_hours_start/end inside 08:00-21:00 (the"
        " federal window) unless quiet_hours_wider_attested is true, and each entry of"
        " quiet_hours_by_state inside that state's statutory hours, attested or not."
        " Every change is written to the audit log with its old and new values."
    ),
    responses=responses(200),
)
def patch_settings(body: TenantSettingsUpdate) -> TenantSettings:
    changes = body.model_dump(exclude_unset=True)  # what was sent, a null included
    for name in ("quiet_hours_start", "quiet_hours_end"):
        if changes.get(name) is not None:
            changes[name] = time.fromisoformat(changes[name])
    actor = f"api_key:{context.scope().principal.key_id}"
    row = settings.update_tenant_settings(context.tenant_uow(), context.tenant_id(), changes, actor)
    return TenantSettings.model_validate(row, from_attributes=True)
