"""Phone numbers in E.164, the only form Tether stores or compares."""

from __future__ import annotations

from functools import cache

from tether.domain.errors import InvalidPhoneNumber

# phonenumbers is imported by the first number parsed, not with this module: about
# 15 ms of a cold start that may parse none (a delivery status, a refused webhook)

DEFAULT_REGION = "US"


@cache
def _parse_reasons() -> dict[int, str]:
    from phonenumbers import NumberParseException as errors

    return {
        errors.INVALID_COUNTRY_CODE: "unknown or missing country code",
        errors.NOT_A_NUMBER: "not a phone number",
        errors.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
        errors.TOO_SHORT_NSN: "too short",
        errors.TOO_LONG: "too long",
    }


@cache
def _length_reasons() -> dict[int, str]:
    from phonenumbers import ValidationResult as results

    return {
        results.INVALID_COUNTRY_CODE: "unknown country code",
        results.TOO_SHORT: "too short",
        results.TOO_LONG: "too long",
        results.INVALID_LENGTH: "wrong number of digits for its region",
    }


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return `raw` in E.164 (`+14155550123`), reading national numbers in `region`.

    Raises InvalidPhoneNumber naming the input and the reason when it is not a valid,
    dialable number.
    """
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty")
    import phonenumbers

    results = phonenumbers.ValidationResult
    try:
        parsed = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as error:
        reason = _parse_reasons().get(error.error_type, "cannot be parsed")
        raise InvalidPhoneNumber(raw, reason) from error
    length = phonenumbers.is_possible_number_with_reason(parsed)
    if length not in (results.IS_POSSIBLE, results.IS_POSSIBLE_LOCAL_ONLY):
        raise InvalidPhoneNumber(raw, _length_reasons().get(length, "impossible number"))
    if length == results.IS_POSSIBLE_LOCAL_ONLY:
        raise InvalidPhoneNumber(raw, "local number without an area code")
    if not phonenumbers.is_valid_number(parsed):
        region_code = phonenumbers.region_code_for_number(parsed) or region.upper()
        raise InvalidPhoneNumber(raw, f"not an assigned number range in {region_code}")
    formatted: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def is_e164(value: str) -> bool:
    """True when `value` is already in the normalised form Tether stores."""
    try:
        return normalize_phone(value) == value
    except InvalidPhoneNumber:
        return False


def normalize_or_keep(address: str, region: str = DEFAULT_REGION) -> str:
    """E.164 when `address` is a phone number, else the address as it came (a short code
    or an alphanumeric sender must be kept, not refused)."""
    try:
        return normalize_phone(address, region)
    except InvalidPhoneNumber:
        return address.strip()


def is_mobile(e164: str) -> bool:
    """True when the number can be a mobile (in North America a range serves both)."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(parsed) in {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
