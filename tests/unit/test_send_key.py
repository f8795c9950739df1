from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tether.domain.errors import InvalidSendKey
from tether.domain.send_key import MAX_SEND_KEY_LENGTH, check_send_key, default_send_key

LEAD = uuid.UUID("7b0c6d1e-2f57-4c0b-9b5e-4f1c2d3e4a5b")


def test_default_key_is_lead_template_and_utc_day() -> None:
    at = datetime(2026, 11, 21, 15, 30, tzinfo=UTC)
    assert default_send_key(LEAD, "intro", at) == f"{LEAD}:intro:2026-11-21"


def test_the_day_is_the_utc_day_wherever_the_caller_is() -> None:
    late_in_california = datetime(2026, 11, 21, 22, 0, tzinfo=timezone(timedelta(hours=-8)))
    assert default_send_key(LEAD, "intro", late_in_california).endswith(":2026-11-22")


def test_same_lead_template_and_day_give_the_same_key() -> None:
    morning = datetime(2026, 11, 21, 1, tzinfo=UTC)
    evening = datetime(2026, 11, 21, 23, tzinfo=UTC)
    assert default_send_key(LEAD, "intro", morning) == default_send_key(LEAD, "intro", evening)
    assert default_send_key(LEAD, "intro", morning) != default_send_key(LEAD, "nudge", morning)


@pytest.mark.parametrize("template", ["", "  ", "a:b"])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(InvalidSendKey):
        default_send_key(LEAD, template, datetime(2026, 1, 1, tzinfo=UTC))


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidSendKey, match="time zone"):
        default_send_key(LEAD, "intro", datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize("key", ["", "   ", "x" * (MAX_SEND_KEY_LENGTH + 1), "a\nb"])
def test_caller_keys_are_checked(key: str) -> None:
    with pytest.raises(InvalidSendKey):
        check_send_key(key)
