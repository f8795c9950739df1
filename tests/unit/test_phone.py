from __future__ import annotations

import pytest

from tether.domain.errors import InvalidPhoneNumber
from tether.domain.phone import is_e164, normalize_or_keep, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("650-530-0051", "US", "+16505300051"),
        ("(650) 530 0051", "US", "+16505300051"),
        ("6505300051", "US", "+16505300051"),
        ("+1 650 530 0051", "US", "+16505300051"),
        ("1-650-530-0051", "US", "+16505300051"),
        ("  +16505300051 ", "US", "+16505300051"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 20 7946 0018", "US", "+442079460018"),  # an international number ignores the region
        ("0171 1234567", "de", "+491711234567"),  # region is case-insensitive
    ],
)
def test_normalises_to_e164(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("call me", "not a phone number"),
        ("650-530", "too short"),
        ("530-0051", "local number without an area code"),
        ("+1 650 530 0051 0051 999", "too long"),
        ("+1 055 530 0051", "not an assigned number range"),
        ("+999 1234 5678", "country code"),
    ],
)
def test_invalid_numbers_say_which_input_and_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as error:
        normalize_phone(raw)
    assert error.value.raw == raw
    assert reason in error.value.reason
    assert repr(raw) in str(error.value)


def test_is_e164_only_for_the_stored_form() -> None:
    assert is_e164("+16505300051")
    assert not is_e164("650-530-0051")
    assert not is_e164("+1650530005")


def test_addresses_that_are_not_phone_numbers_are_kept() -> None:
    assert normalize_or_keep("(650) 530-0051") == "+16505300051"
    assert normalize_or_keep(" 72345 ") == "72345"
    assert normalize_or_keep("ACME") == "ACME"
