"""Lead import: rows from JSON or CSV, phones normalised, bad rows reported with their
reason, rows of one phone merged into one lead. Pure: the service stores the result."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tether.domain.consent import CONSENT_COLUMNS, ConsentEvidence, evidence_from_columns
from tether.domain.errors import InvalidInput, InvalidPhoneNumber
from tether.domain.phone import normalize_phone
from tether.domain.templates import custom_field_name

MAX_ROWS = 5000
KNOWN_COLUMNS = ("phone", "first_name", "last_name", "email", "timezone", "company")
MAX_CUSTOM_FIELDS = 100  # per lead (the database checks the same)


@dataclass(frozen=True, slots=True)
class LeadRow:
    phone: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    timezone: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # its custom fields
    company: str | None = None
    consent: dict[str, str] = field(default_factory=dict)  # its CONSENT_COLUMNS, as given


@dataclass(frozen=True, slots=True)
class PreparedLead:
    row: int  # the first row (1-based) of this phone
    phone: str  # E.164
    first_name: str | None
    last_name: str | None
    email: str | None
    timezone: str | None
    attributes: dict[str, str]
    company: str | None = None
    consent: ConsentEvidence | None = None


@dataclass(frozen=True, slots=True)
class RejectedLead:
    row: int
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class PreparedImport:
    leads: list[PreparedLead]
    rejected: list[RejectedLead]
    merged_rows: int  # rows folded into an earlier row of the same phone


def rows_from_csv(text: str) -> list[LeadRow]:
    """The rows of a CSV document whose header names a `phone` column (other known
    columns: first_name, last_name, email, timezone, company, and the consent columns
    of tether.domain.consent; the rest become custom fields, `custom_columns`)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the CSV is empty: it needs a header row with a phone column")
        names = [name.strip().lower() for name in header]
        if "phone" not in names:
            raise InvalidInput("the CSV header has no phone column")
        if len(set(names)) != len(names):
            raise InvalidInput("the CSV header names a column twice")
        custom = custom_columns(names, known=(*KNOWN_COLUMNS, *CONSENT_COLUMNS))
        rows: list[LeadRow] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise InvalidInput(f"at most {MAX_ROWS} rows per import")
            cells = dict(zip(names, (v.strip() for v in values), strict=False))
            rows.append(
                LeadRow(
                    phone=cells.get("phone", ""),
                    first_name=cells.get("first_name") or None,
                    last_name=cells.get("last_name") or None,
                    email=cells.get("email") or None,
                    timezone=cells.get("timezone") or None,
                    attributes={custom[k]: v for k, v in cells.items() if k in custom and v},
                    company=cells.get("company") or None,
                    consent={k: v for k, v in cells.items() if k in CONSENT_COLUMNS and v},
                )
            )
    except csv.Error as error:
        raise InvalidInput(f"the CSV cannot be read: {error}") from error
    return rows


def custom_columns(names: Sequence[str], known: Collection[str] = KNOWN_COLUMNS) -> dict[str, str]:
    """The CSV columns that are not a lead's own (`known`), each with the custom field it
    fills: its name lower-cased, other characters as '_' ("Home City" → home_city). A
    blank column name is skipped; one that names no field, or two columns that name
    the same one, are refused."""
    fields: dict[str, str] = {}
    for position, name in enumerate(names, start=1):
        if not name or name in known:
            continue
        field_name = custom_field_name(name)
        if field_name is None:
            raise InvalidInput(
                f"CSV column {position} ({name[:50]!r}) cannot name a custom field:"
                " use letters, digits, '_', '.' or '-'"
            )
        if field_name in fields.values():
            raise InvalidInput(f"two CSV columns both name the custom field {field_name!r}")
        fields[name] = field_name
    if len(fields) > MAX_CUSTOM_FIELDS:
        raise InvalidInput(f"at most {MAX_CUSTOM_FIELDS} custom field columns")
    return fields


def prepare_leads(rows: list[LeadRow], region: str, now: datetime | None = None) -> PreparedImport:
    """Normalise and check each row (its consent too, which cannot be later than `now`);
    a later row of a phone already seen fills what the earlier one left empty."""
    at = now or datetime.now(UTC)
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} rows per import")
    by_phone: dict[str, PreparedLead] = {}
    rejected: list[RejectedLead] = []
    merged = 0
    for index, row in enumerate(rows, start=1):
        try:
            phone = normalize_phone(row.phone, region)
        except InvalidPhoneNumber as error:
            rejected.append(RejectedLead(index, row.phone, error.reason))
            continue
        reason = _invalid_field(row)
        if reason is not None:
            rejected.append(RejectedLead(index, row.phone, reason))
            continue
        try:
            consent = evidence_from_columns(row.consent, at)
        except InvalidInput as error:
            rejected.append(RejectedLead(index, row.phone, str(error)))
            continue
        earlier = by_phone.get(phone)
        if earlier is None:
            by_phone[phone] = PreparedLead(
                index,
                phone,
                row.first_name,
                row.last_name,
                row.email,
                row.timezone,
                dict(row.attributes),
                row.company,
                consent,
            )
            continue
        merged += 1
        by_phone[phone] = replace(
            earlier,
            first_name=earlier.first_name or row.first_name,
            last_name=earlier.last_name or row.last_name,
            email=earlier.email or row.email,
            timezone=earlier.timezone or row.timezone,
            attributes={**row.attributes, **earlier.attributes},
            company=earlier.company or row.company,
            consent=earlier.consent or consent,
        )
    return PreparedImport(list(by_phone.values()), rejected, merged)


def field_problem(row: LeadRow) -> str | None:
    """What is wrong with a lead's details (email, time zone, company, custom fields),
    or None."""
    return _invalid_field(row)


def _invalid_field(row: LeadRow) -> str | None:
    if row.email is not None:
        local, at, domain = row.email.partition("@")
        if not at or not local or "." not in domain or " " in row.email:
            return f"email {row.email[:100]!r} is not an address"
    if row.company is not None and len(row.company) > 200:
        return "company is over 200 characters"
    if len(row.attributes) > MAX_CUSTOM_FIELDS:
        return f"more than {MAX_CUSTOM_FIELDS} custom fields"
    if any(len(value) > 1000 for value in row.attributes.values()):
        return "a custom field's value is over 1000 characters"
    if row.timezone is not None:
        try:
            ZoneInfo(row.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return f"timezone {row.timezone[:100]!r} is not an IANA zone name"
    return None
