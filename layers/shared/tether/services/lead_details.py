"""Correcting a lead's own details (names, email, company, time zone, custom fields):
the values its texts are made from (tether.domain.templates)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.lead_import import LeadRow, field_problem
from tether.observability import logger


def update_lead(
    uow: UnitOfWork,
    tenant_id: UUID,
    lead_id: UUID,
    changes: Mapping[str, str | None],
    custom_fields: Mapping[str, str | None],
    actor: str | None,
) -> dict[str, Any]:
    """Change the details given (a None clears one) and merge `custom_fields` into the
    lead's (a None removes one); the lead as it is now. Audited by the names of what
    changed, never the values: they are the person's data, and the audit log keeps
    what it is given."""
    cleaned = {
        name: (value.strip() or None) if value is not None else None
        for name, value in changes.items()
    }
    problem = field_problem(
        LeadRow(
            phone="",
            email=cleaned.get("email"),
            timezone=cleaned.get("timezone"),
            company=cleaned.get("company"),
            attributes={k: v for k, v in custom_fields.items() if v is not None},
        )
    )
    if problem is not None:
        raise InvalidInput(problem)
    with uow:
        if not uow.leads.update_details(lead_id, cleaned, custom_fields):
            raise NotFound("lead", lead_id)
        if cleaned or custom_fields:
            uow.audit.record(
                "lead_changed",
                tenant_id=tenant_id,
                actor=actor,
                subject_type="lead",
                subject_id=str(lead_id),
                detail={"fields": sorted(cleaned), "custom_fields": sorted(custom_fields)},
            )
        view = uow.leads.view(lead_id)
        uow.commit()
    assert view is not None
    logger.info(
        "lead changed",
        extra={
            "lead_id": str(lead_id),
            "fields": sorted(cleaned),
            "custom_fields": len(custom_fields),
        },
    )
    return view
