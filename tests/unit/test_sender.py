from __future__ import annotations

import uuid

import pytest

from tether.domain.sender import SenderCandidate, area_code, choose_sender, time_zones


def candidate(number: str, load: int = 0) -> SenderCandidate:
    return SenderCandidate(uuid.uuid4(), uuid.uuid4(), number, load)


def test_area_code_only_for_north_american_numbers() -> None:
    assert area_code("+14155550100") == "415"
    assert area_code("+442079460018") is None


def test_time_zones_of_a_range() -> None:
    assert time_zones("+14155550100") == {"America/Los_Angeles"}
    assert time_zones("+12125550100") == {"America/New_York"}


def test_same_area_code_beats_load() -> None:
    chosen = choose_sender(
        "+14155550199", [candidate("+12125550100"), candidate("+14155550100", load=50)]
    )
    assert chosen.phone_number == "+14155550100"


def test_same_time_zone_beats_load() -> None:
    # 310 (Los Angeles) has no number of its own; 650 shares its zone, 212 does not
    chosen = choose_sender(
        "+13105550199", [candidate("+12125550100"), candidate("+16505550100", load=9)]
    )
    assert chosen.phone_number == "+16505550100"


def test_least_loaded_then_lowest_number() -> None:
    numbers = [
        candidate("+12125550101", 3),
        candidate("+12125550102", 1),
        candidate("+12125550100", 1),
    ]
    assert choose_sender("+442079460018", numbers).phone_number == "+12125550100"


def test_no_candidates_is_an_error() -> None:
    with pytest.raises(ValueError, match="no candidate"):
        choose_sender("+14155550199", [])
