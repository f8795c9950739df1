"""Consent you can prove (issue 19): what a phone agreed to, where, when and how we know,
kept as an append-only log per (tenant, phone, channel) in which a revocation is a row of
its own. Pure: the columns an import recognises, the evidence they make, and the rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from tether.domain.errors import InvalidInput

CHANNELS = ("sms", "whatsapp", "voice")
DEFAULT_CHANNEL = "sms"


class ConsentKind(StrEnum):
    GRANTED = "granted"
    REVOKED = "revoked"


class SourceType(StrEnum):
    FORM = "form"  # a web form: the source is its URL
    IMPORT = "import"  # a lead import's own consent columns
    ATTESTATION = "attestation"  # the tenant attests consent for a whole import
    KEYWORD = "keyword"  # a text from the phone: YES, START, STOP ...
    API = "api"  # recorded through the API with its own evidence


# The lead import's consent columns (CSV header or JSON field names); any other unknown
# column is a lead attribute. consent_source is what makes a row carry consent.
CONSENT_COLUMNS = (
    "consent_source",
    "consent_at",
    "consent_text",
    "consent_ip",
    "consent_user_agent",
    "consent_evidence",
)
MAX_SOURCE = 2000
MAX_TEXT = 10000


@dataclass(frozen=True, slots=True)
class ConsentEvidence:
    """What a consent is recorded with: where (source and its type), when, the exact
    disclosure shown, the IP and user agent when known, a reference to more evidence."""

    source_type: SourceType
    source: str
    consented_at: datetime
    disclosure_text: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    evidence_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """One row of the log."""

    id: UUID
    phone: str | None  # None once erased (migration 0029)
    channel: str
    kind: ConsentKind
    source_type: SourceType
    source: str
    consented_at: datetime
    recorded_at: datetime
    disclosure_text: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    evidence_ref: str | None = None
    lead_id: UUID | None = None
    message_id: UUID | None = None
    recorded_by: str | None = None


def check_evidence(evidence: ConsentEvidence, now: datetime) -> ConsentEvidence:
    """The evidence if it can be recorded, else InvalidInput saying what is wrong."""
    if not evidence.source.strip():
        raise InvalidInput("the consent's source cannot be blank")
    if len(evidence.source) > MAX_SOURCE:
        raise InvalidInput(f"the consent's source is longer than {MAX_SOURCE} characters")
    if evidence.disclosure_text is not None and len(evidence.disclosure_text) > MAX_TEXT:
        raise InvalidInput(f"the disclosure text is longer than {MAX_TEXT} characters")
    if evidence.consented_at.tzinfo is None:
        raise InvalidInput("the consent's time needs a UTC offset")
    if evidence.consented_at > now:
        raise InvalidInput("the consent's time is in the future")
    if evidence.ip is not None:
        try:
            ipaddress.ip_address(evidence.ip)
        except ValueError as error:
            raise InvalidInput(f"consent_ip {evidence.ip[:64]!r} is not an IP address") from error
    return evidence


def evidence_from_columns(cells: Mapping[str, str | None], now: datetime) -> ConsentEvidence | None:
    """A lead import row's consent, from its consent columns: None when it names no
    consent_source; InvalidInput when what it gives cannot be recorded."""
    values = {name: (cells.get(name) or "").strip() or None for name in CONSENT_COLUMNS}
    source = values["consent_source"]
    if source is None:
        given = sorted(name for name, value in values.items() if value is not None)
        if given:
            raise InvalidInput(f"{', '.join(given)} given without consent_source")
        return None
    raw_at = values["consent_at"]
    if raw_at is None:
        raise InvalidInput("consent_source given without consent_at (when consent was given)")
    try:
        consented_at = datetime.fromisoformat(raw_at.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInput(f"consent_at {raw_at[:64]!r} is not an ISO 8601 time") from error
    return check_evidence(
        ConsentEvidence(
            SourceType.IMPORT,
            source,
            consented_at,
            values["consent_text"],
            values["consent_ip"],
            values["consent_user_agent"],
            values["consent_evidence"],
        ),
        now,
    )


def missing_consent_message(rows: list[int]) -> str:
    """Why an import is refused when the tenant requires consent."""
    shown = ", ".join(str(row) for row in rows[:20])
    more = f" and {len(rows) - 20} more" if len(rows) > 20 else ""
    return (
        "this tenant requires consent (require_consent): rows without consent_source:"
        f" {shown}{more}; give consent columns for every row, or a consent_attestation"
    )
