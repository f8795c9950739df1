"""A tenant's configuration (seed 002 part 6: quiet hours, timer intervals, call
priorities, lease hours, send limits), read and changed through the API."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.model import TenantConfig
from tether.domain.quiet_hours import QuietHours, SendWindow, check_narrowing
from tether.observability import logger

# null turns these off: no pacing, no daily cap
NULLABLE = frozenset({"send_segments_per_second", "send_segments_per_day", "reply_mailbox"})


def tenant_settings(uow: UnitOfWork, tenant_id: UUID) -> TenantConfig:
    with uow:
        return _settings(uow, tenant_id)


def _settings(uow: UnitOfWork, tenant_id: UUID) -> TenantConfig:
    config = uow.settings.get(tenant_id)
    if config is None:
        raise NotFound("tenant", tenant_id)
    return config


def update_tenant_settings(
    uow: UnitOfWork, tenant_id: UUID, changes: dict[str, Any], actor: str | None = None
) -> TenantConfig:
    """Apply `changes` (only the settings given) and return them all. The rules that tie
    settings together are checked on the result, so one request may move several.

    Quiet hours may only narrow the law's: the tenant's window inside the federal one
    unless `quiet_hours_wider_attested`, and a state's window inside its statutory hours
    whatever was attested (`tether.domain.quiet_hours.check_narrowing`). Every change
    is audited with its old and new values, by `actor` (a trigger, migration 0017)."""
    cleared = sorted(
        name for name, value in changes.items() if value is None and name not in NULLABLE
    )
    if cleared:
        raise InvalidInput(f"{', '.join(cleared)} cannot be null")
    with uow:
        _check(replace(_settings(uow, tenant_id), **changes))
        if changes:
            uow.settings.update(tenant_id, changes, actor)
            uow.commit()
            logger.info(
                "tenant settings changed",
                extra={"tenant_id": str(tenant_id), "changed": sorted(changes), "actor": actor},
            )
        return _settings(uow, tenant_id)


def _check(merged: TenantConfig) -> None:
    """The rules that tie the settings together, on the settings as they would be."""
    if not merged.timer_7d_days < merged.timer_14d_days < merged.timer_30d_days:
        raise InvalidInput(
            "timers must come in order: timer_7d_days < timer_14d_days < timer_30d_days"
        )
    if not merged.quiet_hours_start < merged.quiet_hours_end:
        raise InvalidInput("quiet_hours_start must be before quiet_hours_end")
    check_narrowing(_quiet_hours(merged))
    try:
        ZoneInfo(merged.timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {merged.timezone!r}") from error


def _quiet_hours(merged: TenantConfig) -> QuietHours:
    by_state = {
        state: SendWindow(_time(window["start"]), _time(window["end"]))
        for state, window in merged.quiet_hours_by_state.items()
    }
    return QuietHours(
        SendWindow(merged.quiet_hours_start, merged.quiet_hours_end),
        by_state,
        merged.quiet_hours_wider_attested,
    )


def _time(value: str | time) -> time:
    return value if isinstance(value, time) else time.fromisoformat(value)
