from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.sender import (
    SenderCandidate,
    area_code,
    choose_sender,
    choose_senders,
    time_zones,
)


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


def reference_choice(lead_phone: str, candidates: list[SenderCandidate]) -> SenderCandidate:
    """The rule as the module's docstring states it, every time zone looked up."""
    lead_area, lead_zones = area_code(lead_phone), time_zones(lead_phone)
    return min(
        candidates,
        key=lambda c: (
            not (lead_area is not None and area_code(c.phone_number) == lead_area),
            not lead_zones & time_zones(c.phone_number),
            c.bound_leads,
            c.phone_number,
        ),
    )


# Los Angeles (415, 650, 310), New York (212), Chicago (312), London, and a range with
# several zones or none
numbers = st.sampled_from(
    [
        "+14155550100",
        "+16505550100",
        "+13105550100",
        "+12125550100",
        "+13125550100",
        "+447700900100",
        "+18085550100",
        "+19995550100",
    ]
)


@given(
    st.lists(numbers, min_size=1, max_size=20),
    st.lists(
        st.tuples(numbers, st.integers(0, 3)), min_size=1, max_size=5, unique_by=lambda c: c[0]
    ),
)
def test_choosing_for_many_leads_follows_the_rule_for_each_in_turn(
    leads: list[str], pool: list[tuple[str, int]]
) -> None:
    """Skipping the leads' time zones when the candidates' are all alike changes no choice."""
    candidates = [candidate(number, load) for number, load in pool]
    expected = []
    for phone in leads:
        chosen = reference_choice(phone, candidates)
        expected.append(chosen.phone_number)
        candidates = [
            replace(c, bound_leads=c.bound_leads + 1) if c is chosen else c for c in candidates
        ]
    start = [candidate(number, load) for number, load in pool]
    assert [c.phone_number for c in choose_senders(leads, start)] == expected
