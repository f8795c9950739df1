"""What never leaves Tether in a log line or an audit row: phone numbers (all but their
last four digits) and key material (API keys, signing secrets, bearer tokens).

Pure text rules, used in one place for logs (tether.observability's formatter) and on
provider error texts when a ProviderError is made (a provider's "The 'To' number
+12125550111 is not valid" holds the recipient's number)."""

from __future__ import annotations

import re

# A phone number as providers and people write it: +E.164 (or its URL-encoded %2B
# form) with optional separators; a NANP number written out; 10 to 15 bare digits.
# Not inside a word, an id (UUIDs: a hyphen before) or a longer number.
_PHONE = re.compile(
    r"(?<![\w%+-])"
    r"(?:(?:\+|%2B)\d[\d ().-]{5,20}\d"
    r"|(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4}"
    r"|\d{10,15})"
    r"(?![\w-])"
)
_KEY_MATERIAL = re.compile(
    r"(?i)(?:\b(?:tth|whsec)_[A-Za-z0-9+/=_-]+|\bbearer\s+\S+|\bbasic\s+[A-Za-z0-9+/=]+)"
)
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15


def mask_phone_numbers(text: str) -> str:
    """`text` with every phone number shown as ``***`` and its last four digits."""
    return _PHONE.sub(_masked, text)


def redact_key_material(text: str) -> str:
    """`text` without API keys (``tth_``), ``whsec_`` secrets and Authorization values."""
    return _KEY_MATERIAL.sub("[redacted]", text)


def redact(text: str) -> str:
    return mask_phone_numbers(redact_key_material(text))


def _masked(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found.removeprefix("%2B"))
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return found
    return "***" + digits[-4:]
