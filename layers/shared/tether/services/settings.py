"""A tenant's configuration (seed 002 part 6: quiet hours, timer intervals, call
priorities, lease hours, send limits), read and changed through the API."""

from __future__ import annotations

from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NotFound
from tether.observability import logger

# null turns these off: no pacing, no daily cap
NULLABLE = frozenset({"send_segments_per_second", "send_segments_per_day"})


def tenant_settings(uow: UnitOfWork, tenant_id: UUID) -> dict[str, Any]:
    row = uow.settings.get(tenant_id)
    if row is None:
        raise NotFound("tenant", tenant_id)
    return row


def update_tenant_settings(
    uow: UnitOfWork, tenant_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply `changes` (only the settings given) and return them all. The rules that tie
    settings together are checked on the result, so one request may move several."""
    cleared = sorted(
        name for name, value in changes.items() if value is None and name not in NULLABLE
    )
    if cleared:
        raise InvalidInput(f"{', '.join(cleared)} cannot be null")
    merged = {**tenant_settings(uow, tenant_id), **changes}
    if not merged["timer_7d_days"] < merged["timer_14d_days"] < merged["timer_30d_days"]:
        raise InvalidInput(
            "timers must come in order: timer_7d_days < timer_14d_days < timer_30d_days"
        )
    if not merged["quiet_hours_start"] < merged["quiet_hours_end"]:
        raise InvalidInput("quiet_hours_start must be before quiet_hours_end")
    try:
        ZoneInfo(merged["timezone"])
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {merged['timezone']!r}") from error
    if changes:
        uow.settings.update(tenant_id, changes)
        uow.commit()
        logger.info(
            "tenant settings changed",
            extra={"tenant_id": str(tenant_id), "changed": sorted(changes)},
        )
    return tenant_settings(uow, tenant_id)
