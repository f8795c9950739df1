"""Retention (issue 19): raw webhook requests, message texts (and the bell and insight
copies of them) and stored idempotent responses are cleared once older than their
tenant's window (tenant_config.retain_*_days). The sweeper runs this every minute; each
run does a bounded amount of work, in batches of its own transaction."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from tether.db.retention import PURGES
from tether.db.unit_of_work import UnitOfWork
from tether.observability import logger, metrics


@dataclass(frozen=True, slots=True)
class PurgeReport:
    purged: dict[str, int]
    seconds: float

    @property
    def rows_per_second(self) -> float:
        total = sum(self.purged.values())
        return total / self.seconds if self.seconds > 0 else 0.0


def purge_expired(
    uow: UnitOfWork, now: datetime, batch_size: int = 500, max_batches: int = 10
) -> PurgeReport:
    """Clear what is past its window: at most `max_batches` batches of `batch_size` rows
    of each kind, a transaction each (rows another writer holds are skipped, the next
    run takes them). Each batch leaves one audit row per tenant with its counts."""
    started = time.monotonic()
    purged: Counter[str] = Counter()
    with uow:
        for kind in PURGES:
            for _ in range(max_batches):
                by_tenant = uow.retention.purge(kind, now, batch_size)
                for tenant_id, count in by_tenant.items():
                    uow.audit.record(
                        "retention_purge",
                        tenant_id=tenant_id,
                        actor="retention",
                        subject_type="tenant",
                        subject_id=str(tenant_id),
                        detail={"kind": kind, "rows": count, "before": now.isoformat()},
                    )
                uow.commit()
                batch = sum(by_tenant.values())
                purged[kind] += batch
                if batch < batch_size:
                    break
    report = PurgeReport(dict(purged), time.monotonic() - started)
    total = sum(purged.values())
    if total:
        metrics.add_metric(name="RetentionPurged", unit="Count", value=total)
    logger.info(
        "retention purge",
        extra={
            "purged": report.purged,
            "seconds": round(report.seconds, 3),
            "rows_per_second": round(report.rows_per_second, 1),
        },
    )
    return report
