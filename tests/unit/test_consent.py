"""Consent evidence as the import reads it, the rules a record must meet, and the send
gate require_consent adds: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.consent import (
    CONSENT_COLUMNS,
    ConsentEvidence,
    SourceType,
    check_evidence,
    evidence_from_columns,
    missing_consent_message,
)
from tether.domain.errors import InvalidInput
from tether.domain.lead_import import LeadRow, prepare_leads, rows_from_csv
from tether.domain.send_gates import consent_refusal

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)


def test_the_import_reads_consent_columns_and_keeps_them_out_of_attributes() -> None:
    rows = rows_from_csv(
        "phone,Consent_Source,consent_at,consent_text,consent_ip,consent_user_agent,"
        "consent_evidence,Home City\n"
        "4155550134,https://example.com/join,2026-11-01T10:00:00Z,I agree,198.51.100.4,"
        "Mozilla/5.0,shot-1,Springfield\n"
    )
    [lead] = prepare_leads(rows, "US", NOW).leads
    assert lead.attributes == {"home_city": "Springfield"}
    assert lead.consent == ConsentEvidence(
        SourceType.IMPORT,
        "https://example.com/join",
        datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
        "I agree",
        "198.51.100.4",
        "Mozilla/5.0",
        "shot-1",
    )


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"consent_at": "2026-11-01T10:00:00Z"}, "consent_at given without consent_source"),
        ({"consent_source": "form"}, "without consent_at"),
        ({"consent_source": "form", "consent_at": "yesterday"}, "not an ISO 8601 time"),
        ({"consent_source": "form", "consent_at": "2026-11-01T10:00:00"}, "UTC offset"),
        ({"consent_source": "form", "consent_at": "2026-12-01T10:00:00Z"}, "in the future"),
        (
            {"consent_source": "form", "consent_at": "2026-11-01T10:00:00Z", "consent_ip": "x"},
            "not an IP address",
        ),
    ],
)
def test_a_row_whose_consent_cannot_be_recorded_is_rejected_with_why(
    cells: dict[str, str], reason: str
) -> None:
    prepared = prepare_leads([LeadRow("4155550134", consent=cells)], "US", NOW)
    assert prepared.leads == []
    [rejected] = prepared.rejected
    assert reason in rejected.reason


def test_a_merged_row_keeps_the_first_consent_given() -> None:
    given_at = {"consent_source": "form", "consent_at": "2026-11-01T10:00:00Z"}
    rows = [LeadRow("4155550134"), LeadRow("(415) 555-0134", consent=given_at)]
    [lead] = prepare_leads(rows, "US", NOW).leads
    assert lead.consent is not None
    assert lead.consent.source == "form"


@given(st.dictionaries(st.sampled_from(CONSENT_COLUMNS), st.text(max_size=40), max_size=6))
def test_any_consent_cells_either_make_evidence_or_say_why(cells: dict[str, str]) -> None:
    """Whatever a file holds in its consent columns: evidence, none, or InvalidInput
    (never another error, never evidence without a source and a time)."""
    message = ""
    try:
        evidence = evidence_from_columns(cells, NOW)
    except InvalidInput as error:
        message, evidence = str(error), None
    if evidence is None:
        assert message or not any(value.strip() for value in cells.values())
        return
    assert evidence.source.strip()
    assert evidence.consented_at <= NOW
    assert evidence.consented_at.tzinfo is not None


def test_evidence_limits() -> None:
    good = ConsentEvidence(SourceType.FORM, "https://example.com", NOW - timedelta(days=1))
    assert check_evidence(good, NOW) is good
    with pytest.raises(InvalidInput, match="blank"):
        check_evidence(ConsentEvidence(SourceType.FORM, " ", NOW), NOW)
    assert "and 5 more" in missing_consent_message(list(range(1, 26)))


@pytest.mark.parametrize(
    ("purpose", "has_consent", "refused"),
    [
        ("campaign", False, True),
        ("campaign", True, False),
        ("auto_reply", False, False),  # an answer to the person's own text
        ("opt_out_confirmation", False, False),
    ],
)
def test_require_consent_gates_the_texts_a_tenant_starts(
    purpose: str, has_consent: bool, refused: bool
) -> None:
    refusal = consent_refusal(purpose, has_consent)
    assert (refusal is not None) is refused
    if refusal is not None:
        assert refusal.code == "consent_missing"
        assert "require_consent" in refusal.reason
