"""Lead import rows: CSV read by its header, phones normalised, bad rows kept with
their reason, rows of one phone merged."""

from __future__ import annotations

import pytest

from tether.domain.errors import InvalidInput
from tether.domain.lead_import import LeadRow, prepare_leads, rows_from_csv


def test_csv_columns_are_read_by_name_and_the_rest_become_custom_fields() -> None:
    rows = rows_from_csv(
        "\ufeffPhone, First_Name ,email,Company,Home City\n"
        "(415) 555-0134,Ana,ana@example.com,Acme,Oakland\n\n,,,,\n"
    )
    assert rows == [
        LeadRow(
            "(415) 555-0134",
            "Ana",
            None,
            "ana@example.com",
            None,
            {"home_city": "Oakland"},
            company="Acme",
        )
    ]


@pytest.mark.parametrize(
    ("header", "reason"),
    [("phone,Home City,home_city", "both name"), ("phone,№", "cannot name a custom field")],
)
def test_csv_columns_that_cannot_be_custom_fields_are_refused(header: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        rows_from_csv(header + "\n4155550134,a,b\n")


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("name,email\nAna,a@b.co\n", "phone column"), ("phone,phone\n1,2\n", "twice")],
)
def test_a_csv_that_cannot_be_imported_says_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        rows_from_csv(text)


def test_rows_are_normalised_checked_and_merged_by_phone() -> None:
    prepared = prepare_leads(
        [
            LeadRow("415-555-0134", first_name="Ana"),
            LeadRow("+1 (415) 555 0134", last_name="Lopez", attributes={"source": "csv"}),
            LeadRow("555"),
            LeadRow("+14155550177", email="not-an-address"),
            LeadRow("+14155550178", timezone="Mars/Olympus"),
            LeadRow("+14155550179", timezone="America/Chicago"),
        ],
        "US",
    )
    assert [(lead.phone, lead.first_name, lead.last_name) for lead in prepared.leads] == [
        ("+14155550134", "Ana", "Lopez"),
        ("+14155550179", None, None),
    ]
    assert prepared.leads[0].attributes == {"source": "csv"}
    assert prepared.merged_rows == 1
    assert [(r.row, r.value) for r in prepared.rejected] == [
        (3, "555"),
        (4, "+14155550177"),
        (5, "+14155550178"),
    ]
    assert "email" in prepared.rejected[1].reason
    assert "timezone" in prepared.rejected[2].reason
