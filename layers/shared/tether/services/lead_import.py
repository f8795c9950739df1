"""Importing leads into a campaign: each phone normalised in the tenant's region, bad
rows reported with their reason, good rows stored, a phone seen before merged."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import NotFound
from tether.domain.lead_import import LeadRow, RejectedLead, prepare_leads
from tether.observability import logger
from tether.services.numbers import tenant_number_settings

BATCH = 1000


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int  # new leads
    merged: int  # rows folded into a lead of the same phone (in the campaign or the file)
    rejected: list[RejectedLead]


def import_leads(
    uow: UnitOfWork, tenant_id: UUID, campaign_id: UUID, rows: list[LeadRow]
) -> ImportReport:
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        prepared = prepare_leads(rows, region)
        # the campaign's lock: two imports into one campaign take turns, so a phone is
        # inserted once and merged the second time
        if uow.campaigns.get(campaign_id, for_update=True) is None:
            raise NotFound("campaign", campaign_id)
        inserted = merged = 0
        for start in range(0, len(prepared.leads), BATCH):
            counts = uow.leads.import_rows(
                tenant_id, campaign_id, prepared.leads[start : start + BATCH]
            )
            inserted += counts.inserted
            merged += counts.merged
        uow.commit()
    report = ImportReport(inserted, merged + prepared.merged_rows, prepared.rejected)
    logger.info(
        "leads imported",
        extra={
            "campaign_id": str(campaign_id),
            "imported": report.imported,
            "merged": report.merged,
            "rejected": len(report.rejected),
        },
    )
    return report
