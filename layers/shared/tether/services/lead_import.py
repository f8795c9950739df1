"""Importing leads into a campaign: each phone normalised in the tenant's region, bad
rows reported with their reason, good rows stored, a phone seen before merged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.consent import (
    ConsentEvidence,
    SourceType,
    check_evidence,
    missing_consent_message,
)
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.lead_import import LeadRow, PreparedLead, RejectedLead, prepare_leads
from tether.observability import logger
from tether.services.numbers import tenant_number_settings

BATCH = 1000


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int  # new leads
    merged: int  # rows folded into a lead of the same phone (in the campaign or the file)
    rejected: list[RejectedLead]


@dataclass(frozen=True, slots=True)
class ConsentAttestation:
    """The tenant attests that every phone of the import consented, in these words."""

    statement: str
    source: str | None = None


def import_leads(
    uow: UnitOfWork,
    tenant_id: UUID,
    campaign_id: UUID,
    rows: list[LeadRow],
    attestation: ConsentAttestation | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Store the rows, and the consent each carries (or the tenant's attestation for all
    of them). A tenant that requires consent gets a 422, and nothing stored, when a
    row has neither."""
    at = now or datetime.now(UTC)
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        prepared = prepare_leads(rows, region, at)
        if attestation is None and uow.consents.requires_consent(tenant_id):
            without = [lead.row for lead in prepared.leads if lead.consent is None]
            if without:
                raise InvalidInput(missing_consent_message(without))
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
        consents = _consents(prepared.leads, attestation, campaign_id, at)
        uow.consents.record_many(tenant_id, consents, actor)
        if attestation is not None:
            uow.audit.record(
                "consent_attested",
                tenant_id=tenant_id,
                subject_type="campaign",
                actor=actor,
                subject_id=str(campaign_id),
                detail={"phones": len(consents), "statement": attestation.statement},
            )
        uow.commit()
    report = ImportReport(inserted, merged + prepared.merged_rows, prepared.rejected)
    logger.info(
        "leads imported",
        extra={
            "campaign_id": str(campaign_id),
            "imported": report.imported,
            "merged": report.merged,
            "rejected": len(report.rejected),
            "consents": len(consents),
        },
    )
    return report


def _consents(
    leads: list[PreparedLead],
    attestation: ConsentAttestation | None,
    campaign_id: UUID,
    now: datetime,
) -> list[tuple[str, ConsentEvidence]]:
    """Each lead's consent: the attestation's when there is one, else its own columns."""
    if attestation is None:
        return [(lead.phone, lead.consent) for lead in leads if lead.consent is not None]
    evidence = check_evidence(
        ConsentEvidence(
            SourceType.ATTESTATION,
            attestation.source or f"lead import into campaign {campaign_id}",
            now,
            disclosure_text=attestation.statement,
        ),
        now,
    )
    return [(lead.phone, evidence) for lead in leads]
