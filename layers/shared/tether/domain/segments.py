"""How many SMS segments a body costs (3GPP TS 23.038 alphabets, TS 23.040 concatenation).

A body that fits the GSM-7 alphabet travels in 7-bit septets: 160 in a single message,
153 per part once it is split (the concatenation header takes the rest). Characters of
the GSM-7 extension table cost two septets (an escape and the character) and a part
never ends between the two. Any character outside GSM-7 turns the whole body into
UCS-2: 70 UTF-16 code units single, 67 per part, and a surrogate pair (an emoji, say)
never straddles two parts. Providers bill per segment, so this is a cost figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# The GSM 03.38 default alphabet (the escape code 0x1B is not a character of its own).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as escape + character, two septets.
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: Encoding
    segments: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2


def count_segments(body: str) -> SegmentCount:
    """The encoding, segment count and size in units of `body`; an empty body has no
    segments."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in body):
        widths = [2 if char in GSM7_EXTENDED else 1 for char in body]
        return SegmentCount("GSM-7", _segments(widths, GSM7_SINGLE, GSM7_PART), sum(widths))
    # Characters beyond the Basic Multilingual Plane take a surrogate pair in UTF-16.
    widths = [2 if ord(char) > 0xFFFF else 1 for char in body]
    return SegmentCount("UCS-2", _segments(widths, UCS2_SINGLE, UCS2_PART), sum(widths))


def _segments(widths: list[int], single: int, per_part: int) -> int:
    total = sum(widths)
    if total == 0:
        return 0
    if total <= single:
        return 1
    # Pack greedily: a character that does not fit whole starts the next part, so an
    # escape pair or a surrogate pair is never split.
    parts, filled = 1, 0
    for width in widths:
        if filled + width > per_part:
            parts += 1
            filled = 0
        filled += width
    return parts
