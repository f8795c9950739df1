from __future__ import annotations

import pytest

from tether.domain.segments import GSM7_BASIC, GSM7_EXTENDED, SegmentCount, count_segments


def test_the_alphabets_are_the_standard_ones() -> None:
    # 128 code points less the escape; the extension table this counter knows.
    assert len(GSM7_BASIC) == 127
    assert sorted(GSM7_EXTENDED) == sorted("\f^{}\\[~]|€")
    assert not GSM7_BASIC & GSM7_EXTENDED


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", SegmentCount("GSM-7", 0, 0)),
        ("Hi Ana, it's Sam from Acme. Free to talk today?", SegmentCount("GSM-7", 1, 47)),
        ("a" * 160, SegmentCount("GSM-7", 1, 160)),
        ("a" * 161, SegmentCount("GSM-7", 2, 161)),
        ("a" * 306, SegmentCount("GSM-7", 2, 306)),
        ("a" * 307, SegmentCount("GSM-7", 3, 307)),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", SegmentCount("GSM-7", 1, 42)),
    ],
)
def test_gsm7_bodies(body: str, expected: SegmentCount) -> None:
    assert count_segments(body) == expected


def test_extended_characters_cost_two_septets() -> None:
    assert count_segments("€") == SegmentCount("GSM-7", 1, 2)
    assert count_segments("^{}\\[~]|€\f") == SegmentCount("GSM-7", 1, 20)
    # 80 extended characters are 160 septets: still one message; one more septet is two.
    assert count_segments("{" * 80) == SegmentCount("GSM-7", 1, 160)
    assert count_segments("{" * 80 + "a") == SegmentCount("GSM-7", 2, 161)


def test_an_extended_character_is_never_split_across_parts() -> None:
    # 152 septets, then '€' (2) would straddle the 153-septet boundary: it moves whole
    # to part two, so 152 + 2 + 152 septets take three parts, not two.
    body = "a" * 152 + "€" + "a" * 152
    assert count_segments(body) == SegmentCount("GSM-7", 3, 306)
    # The same length with the extended character placed clear of the boundary: two.
    assert count_segments("€" + "a" * 304) == SegmentCount("GSM-7", 2, 306)


def test_extended_character_exactly_filling_a_part() -> None:
    body = "a" * 151 + "€" + "a" * 153
    assert count_segments(body) == SegmentCount("GSM-7", 2, 306)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("ç", SegmentCount("UCS-2", 1, 1)),  # only capital Ç is in GSM-7
        ("“quoted”", SegmentCount("UCS-2", 1, 8)),  # curly quotes are not GSM-7
        ("Привет", SegmentCount("UCS-2", 1, 6)),
        ("ж" * 70, SegmentCount("UCS-2", 1, 70)),
        ("ж" * 71, SegmentCount("UCS-2", 2, 71)),
        ("ж" * 134, SegmentCount("UCS-2", 2, 134)),
        ("ж" * 135, SegmentCount("UCS-2", 3, 135)),
    ],
)
def test_ucs2_bodies(body: str, expected: SegmentCount) -> None:
    assert count_segments(body) == expected


def test_an_emoji_is_two_code_units() -> None:
    assert count_segments("😀") == SegmentCount("UCS-2", 1, 2)
    assert count_segments("😀" * 35) == SegmentCount("UCS-2", 1, 70)
    assert count_segments("😀" * 36) == SegmentCount("UCS-2", 2, 72)


def test_a_surrogate_pair_is_never_split_across_parts() -> None:
    # 66 units, then an emoji (2 units) would straddle the 67-unit boundary.
    body = "ж" * 66 + "😀" + "ж" * 66
    assert count_segments(body) == SegmentCount("UCS-2", 3, 134)
    assert count_segments("😀" + "ж" * 132) == SegmentCount("UCS-2", 2, 134)


def test_one_character_outside_gsm7_turns_the_whole_body_into_ucs2() -> None:
    gsm = "Your appointment is confirmed for 3pm tomorrow. Reply C to confirm. " * 2
    assert count_segments(gsm).encoding == "GSM-7"
    assert count_segments(gsm).segments == 1
    mixed = gsm + "👍"
    assert count_segments(mixed) == SegmentCount("UCS-2", 3, len(gsm) + 2)
    # Extended GSM characters mixed into a UCS-2 body are plain single code units.
    assert count_segments("€{}😀") == SegmentCount("UCS-2", 1, 5)
