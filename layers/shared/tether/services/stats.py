"""Results of a campaign or a number (tether.domain.stats says what each figure means),
read from the rollup the database keeps in the same transactions as the messages
(migration 0026), and the job that keeps that rollup small."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from tether.db.stats import Scope
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import NotFound
from tether.domain.stats import (
    DEFAULT_VARIANT,
    FAILED_STATUSES,
    Engagement,
    FailureKind,
    OutcomeCount,
    ResultFigures,
    Results,
    SendOutcomes,
    add_outcomes,
    failure_kind,
)


def campaign_results(uow: UnitOfWork, campaign_id: UUID) -> Results:
    """The campaign's results."""
    with uow:
        if uow.campaigns.get(campaign_id) is None:
            raise NotFound("campaign", campaign_id)
        return _results(uow, "campaign", campaign_id)


def number_results(uow: UnitOfWork, number_id: UUID) -> Results:
    """The number's results across its campaigns."""
    with uow:
        if uow.numbers.get(number_id) is None:
            raise NotFound("phone number", number_id)
        return _results(uow, "number", number_id)


def compact_results(uow: UnitOfWork, batch: int) -> int:
    """Fold a batch of the results' deltas into their counts (jobs role, every tenant):
    reads stay a few rows per group. Returns how many deltas moved."""
    with uow:
        moved = uow.stats.compact(batch)
        uow.commit()
    return moved


def _results(uow: UnitOfWork, scope: Scope, subject_id: UUID) -> Results:
    tenant_id = uow.tenant_id
    assert tenant_id is not None  # a tenant's unit of work
    outcomes, contacts = uow.stats.outcomes(tenant_id, scope, subject_id)
    replies = uow.stats.replies(tenant_id, scope, subject_id)
    overall = SendOutcomes()
    by_variant: dict[str, SendOutcomes] = {}
    for row in outcomes:
        name = row.variant or DEFAULT_VARIANT
        failure = _failure(row)
        overall = _add(overall, row, failure)
        by_variant[name] = _add(by_variant.get(name, SendOutcomes()), row, failure)
    contacted = {(variant or DEFAULT_VARIANT): n for variant, n in contacts.items()}
    engaged: dict[str, Engagement] = {}
    total = Engagement(contacts=sum(contacted.values()))
    for group in replies:
        if group.overall:
            total = replace(group.engagement, contacts=total.contacts)
        else:
            name = group.variant or DEFAULT_VARIANT
            engaged[name] = replace(group.engagement, contacts=contacted.get(name, 0))
    names = by_variant.keys() | contacted.keys() | engaged.keys()
    return Results(
        overall=ResultFigures.of(overall, total),
        by_variant={
            name: ResultFigures.of(
                by_variant.get(name, SendOutcomes()),
                engaged.get(name, Engagement(contacts=contacted.get(name, 0))),
            )
            for name in sorted(names)
        },
    )


def _failure(row: OutcomeCount) -> FailureKind | None:
    if row.status not in FAILED_STATUSES:
        return None
    from tether.providers.factory import classify_error  # the adapters, not at import

    provider_kind = classify_error(row.provider, row.error_code) if row.error_code else None
    return failure_kind(row.error_code, provider_kind.value if provider_kind else None)


def _add(into: SendOutcomes, row: OutcomeCount, failure: FailureKind | None) -> SendOutcomes:
    return add_outcomes(
        into, row.count, accepted=row.accepted, status=row.status, failure=failure, mms=row.mms
    )
