"""Results of a campaign or a number (tether.domain.stats says what each figure means),
read from the stored messages in one read-only transaction."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from tether.db.stats import Scope
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput, NotFound
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
from tether.providers.factory import classify_error


def campaign_results(
    uow: UnitOfWork,
    campaign_id: UUID,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Results:
    """The campaign's results, of the sends stored in [since, until) when given."""
    _check_window(since, until)
    with uow:
        if uow.campaigns.get(campaign_id) is None:
            raise NotFound("campaign", campaign_id)
        return _results(uow, "campaign", campaign_id, since, until)


def number_results(
    uow: UnitOfWork,
    number_id: UUID,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Results:
    """The number's results across its campaigns, of the sends stored in [since, until)."""
    _check_window(since, until)
    with uow:
        if uow.numbers.get(number_id) is None:
            raise NotFound("phone number", number_id)
        return _results(uow, "number", number_id, since, until)


def _check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise InvalidInput("'since' must be before 'until'")


def _results(
    uow: UnitOfWork, scope: Scope, subject_id: UUID, since: datetime | None, until: datetime | None
) -> Results:
    tenant_id = uow.tenant_id
    assert tenant_id is not None  # a tenant's unit of work
    outcomes = uow.stats.outcomes(tenant_id, scope, subject_id, since, until)
    engagement = uow.stats.engagement(tenant_id, scope, subject_id, since, until)
    overall = SendOutcomes()
    by_variant: dict[str, SendOutcomes] = {}
    for row in outcomes:
        name = row.variant or DEFAULT_VARIANT
        failure = _failure(row)
        overall = _add(overall, row, failure)
        by_variant[name] = _add(by_variant.get(name, SendOutcomes()), row, failure)
    engaged: dict[str, Engagement] = {}
    total = Engagement()
    for group in engagement:
        if group.overall:
            total = group.engagement
        else:
            engaged[group.variant or DEFAULT_VARIANT] = group.engagement
    return Results(
        overall=ResultFigures.of(overall, total),
        by_variant={
            name: ResultFigures.of(
                by_variant.get(name, SendOutcomes()), engaged.get(name, Engagement())
            )
            for name in sorted(by_variant.keys() | engaged.keys())
        },
    )


def _failure(row: OutcomeCount) -> FailureKind | None:
    if row.status not in FAILED_STATUSES:
        return None
    provider_kind = classify_error(row.provider, row.error_code) if row.error_code else None
    return failure_kind(row.error_code, provider_kind.value if provider_kind else None)


def _add(into: SendOutcomes, row: OutcomeCount, failure: FailureKind | None) -> SendOutcomes:
    return add_outcomes(into, row.count, accepted=row.accepted, status=row.status, failure=failure)
