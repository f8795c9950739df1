"""The suppression list (issue 19): list and search it, add a do-not-contact entry by
hand or from a CSV, export it. Nothing is removed here: an entry is lifted only by a
re-subscribe (tether.services.replies, tether.services.consent), which the database
enforces; a trigger audits every change (migration 0027)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import Conflict, InvalidInput, InvalidPhoneNumber, NotFound
from tether.domain.outbox import EventType, opted_out_data
from tether.domain.pagination import Page, Position, page_of
from tether.domain.phone import normalize_or_keep, normalize_phone
from tether.domain.suppressions import EXPORT_COLUMNS, MAX_IMPORT_ROWS, Suppression
from tether.observability import logger
from tether.services.numbers import tenant_number_settings

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EXPORT_PAGE = 10_000  # rows per exported CSV; the next ones follow the cursor


@dataclass(frozen=True, slots=True)
class ImportedRow:
    row: int
    value: str
    outcome: str  # added, already, invalid
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SuppressionImport:
    added: int = 0
    already: int = 0
    invalid: int = 0
    rows: list[ImportedRow] = field(default_factory=list)


def list_suppressions(
    uow: UnitOfWork,
    tenant_id: UUID,
    after: Position | None,
    limit: int,
    *,
    phone: str | None,
    active: bool | None,
) -> Page[Suppression]:
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        wanted = normalize_or_keep(phone, region) if phone else None
        rows = uow.suppressions.page(after, limit, phone=wanted, active=active)
    return page_of(rows, limit, lambda s: (s.created_at, s.id))


def add_suppression(
    uow: UnitOfWork,
    tenant_id: UUID,
    phone: str,
    note: str,
    actor: str | None,
    phone_number_id: UUID | None = None,
) -> Suppression:
    """A do-not-contact entry by hand, tenant-wide or for one sending number. 409 when
    the phone is suppressed already."""
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        e164 = normalize_phone(phone, region)
        if phone_number_id is not None and uow.numbers.get(phone_number_id) is None:
            raise NotFound("phone number", phone_number_id)
        if not uow.suppressions.add(
            tenant_id, e164, "manual", phone_number_id=phone_number_id, note=note, added_by=actor
        ):
            raise Conflict("suppressions_one_active", "this number is suppressed already")
        uow.outbox.record(
            tenant_id,
            EventType.LEAD_OPTED_OUT,
            opted_out_data(
                None, e164, number_id=phone_number_id, number=None, keyword=None, source="manual"
            ),
            None,
        )
        [added] = [
            s
            for s in uow.suppressions.active_for(tenant_id, e164)
            if s.phone_number_id == phone_number_id
        ]
        uow.commit()
    logger.info("suppression added", extra={"tenant_id": str(tenant_id), "actor": actor})
    return added


def import_suppressions(
    uow: UnitOfWork, tenant_id: UUID, text: str, default_note: str | None, actor: str | None
) -> SuppressionImport:
    """A do-not-contact list from CSV: a header naming a `phone` column (and an optional
    `note` or `reason` column). Each row is reported: added, already suppressed, or
    invalid with why. All valid rows are stored in one transaction."""
    parsed = _csv_rows(text)
    with uow:
        region = tenant_number_settings(uow, tenant_id).default_region
        report: list[ImportedRow | None] = []
        wanted: dict[str, tuple[int, str | None]] = {}
        for index, (value, note) in enumerate(parsed, start=1):
            try:
                phone = normalize_phone(value, region)
            except InvalidPhoneNumber as error:
                report.append(ImportedRow(index, value, "invalid", error.reason))
                continue
            if phone in wanted:
                report.append(ImportedRow(index, value, "already", "repeats an earlier row"))
                continue
            wanted[phone] = (index, note or default_note)
            report.append(None)
        added = uow.suppressions.add_many(
            tenant_id, [(phone, note) for phone, (_, note) in wanted.items()], actor
        )
        uow.outbox.record_many(
            [
                (
                    tenant_id,
                    EventType.LEAD_OPTED_OUT,
                    opted_out_data(
                        None, phone, number_id=None, number=None, keyword=None, source="manual"
                    ),
                    None,
                )
                for phone in sorted(added)
            ],
            None,
        )
        uow.commit()
    for phone, (index, _) in wanted.items():
        outcome = "added" if phone in added else "already"
        report[index - 1] = ImportedRow(
            index,
            parsed[index - 1][0],
            outcome,
            None if outcome == "added" else "suppressed already",
        )
    rows = [row for row in report if row is not None]
    result = SuppressionImport(
        added=sum(r.outcome == "added" for r in rows),
        already=sum(r.outcome == "already" for r in rows),
        invalid=sum(r.outcome == "invalid" for r in rows),
        rows=rows,
    )
    logger.info(
        "suppressions imported",
        extra={
            "tenant_id": str(tenant_id),
            "added": result.added,
            "already": result.already,
            "invalid": result.invalid,
        },
    )
    return result


def export_suppressions(
    uow: UnitOfWork, tenant_id: UUID, after: Position | None, *, active: bool | None
) -> tuple[str, str | None]:
    """The list as CSV (newest first, EXPORT_PAGE rows), and the cursor of the rest."""
    page = list_suppressions(uow, tenant_id, after, EXPORT_PAGE, phone=None, active=active)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for suppression in page.items:
        writer.writerow(_safe(suppression.export_row()))
    return out.getvalue(), page.next_cursor


def _safe(cells: list[str]) -> list[str]:
    """A cell a spreadsheet would run as a formula is written as text (CSV injection);
    an E.164 phone stays as it is."""
    return [
        f"'{c}" if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not _E164.match(c) else c
        for c in cells
    ]


def _csv_rows(text: str) -> list[tuple[str, str | None]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the CSV is empty: it needs a header row with a phone column")
        names = [name.strip().lower() for name in header]
        if "phone" not in names:
            raise InvalidInput("the CSV header has no phone column")
        note_column = "note" if "note" in names else "reason" if "reason" in names else None
        rows: list[tuple[str, str | None]] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise InvalidInput(f"at most {MAX_IMPORT_ROWS} rows per import")
            cells = dict(zip(names, (v.strip() for v in values), strict=False))
            note = cells.get(note_column) if note_column else None
            rows.append((cells.get("phone", ""), (note or None) and note[:1000]))
    except csv.Error as error:
        raise InvalidInput(f"the CSV cannot be read: {error}") from error
    if not rows:
        raise InvalidInput("the CSV has no rows")
    return rows
