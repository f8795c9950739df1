"""Logs hold no key material, ever, and phone numbers only as their last four digits
(tether.domain.redaction through tether.observability's formatter), except at DEBUG on
the local stage. Provider error texts are redacted where they enter Tether."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.log_capture import captured_logs
from tether.config import stage_settings
from tether.domain.api_keys import generate_key
from tether.domain.redaction import mask_phone_numbers, redact, redact_key_material
from tether.observability import logger
from tether.providers import ProviderError, ProviderErrorKind

E164 = st.from_regex(r"\+1[2-9]\d{2}[2-9]\d{6}", fullmatch=True) | st.from_regex(
    r"\+(44|33|49|61|81)\d{8,11}", fullmatch=True
)
FILLER = st.text(st.characters(exclude_categories=["Nd"]), max_size=30)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("The 'To' number +12125550111 is not a valid phone number.", "***0111"),
        ("to +1 (212) 555-0111, please", "***0111"),
        ("From=%2B12125550111&Body=hi", "***0111"),
        ("call (212) 555-0111 now", "***0111"),
        ("212-555-0111", "***0111"),
        ("recipient 15005550001 blocked", "***0001"),
        ("+44 20 7183 8750", "***8750"),
    ],
)
def test_phone_numbers_are_masked_to_their_last_four_digits(text: str, shown: str) -> None:
    masked = mask_phone_numbers(text)
    assert shown in masked
    assert "555" not in masked.replace(shown, "")
    assert "7183" not in masked


@pytest.mark.parametrize(
    "text",
    [
        "123e4567-e89b-12d3-a456-426614174000",
        "2026-11-24 14:13:30,128+0000",
        "2026-11-24T14:13:30.128Z",
        "SM1234567890abcdef1234567890abcdef",
        "attempt 3 of 5, 160 segments, ms=1234",
        "AC0123456789abcdef0123456789abcdef",
    ],
)
def test_ids_times_and_counts_are_left_alone(text: str) -> None:
    assert mask_phone_numbers(text) == text


@given(number=E164, before=FILLER, after=FILLER)
def test_no_generated_number_survives_in_any_text(number: str, before: str, after: str) -> None:
    masked = mask_phone_numbers(f"{before} {number} {after}")
    digits = number.removeprefix("+")
    assert digits not in masked
    assert digits[:-4] not in masked.replace(before, "").replace(after, "")
    assert "***" + digits[-4:] in masked


@given(st.uuids())
def test_uuids_are_never_taken_for_numbers(value: uuid.UUID) -> None:
    assert mask_phone_numbers(str(value)) == str(value)


def test_key_material_is_redacted() -> None:
    key = generate_key().key
    for text in (
        key,
        f"presented {key[:12]}",
        f"Authorization: Bearer {key}",
        "secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "Basic QUMxMjM6dG9rZW4=",
    ):
        redacted = redact_key_material(text)
        assert "[redacted]" in redacted
        assert key[4:12] not in redacted
        assert "MfKQ9r8G" not in redacted
        assert "QUMxMjM6" not in redacted


def test_a_failed_key_lookup_line_holds_no_key_characters() -> None:
    key = generate_key().key
    with captured_logs() as logs:
        # what services.api_keys.authenticate logs for an unknown key
        logger.warning("unknown or revoked API key", extra={"prefix": key[:12]})
        logger.info("request", extra={"headers": {"Authorization": f"Bearer {key}"}})
    assert logs.text
    assert key[4:12] not in logs.text
    assert key[4:] not in logs.text


def test_log_lines_mask_numbers_in_messages_extras_and_exceptions() -> None:
    with captured_logs() as logs:
        logger.info(
            "reply from +12125550111",
            extra={
                "to": "+14155550101",
                "numbers": ["+13125550112", {"lead": "+16175550114"}],
                "count": 12125550111,  # a number typed as one is not a phone number
                "message_id": "123e4567-e89b-12d3-a456-426614174000",
            },
        )
        try:
            raise ValueError("no route to +17135550115")
        except ValueError:
            logger.exception("send crashed")
    for leaked in ("2125550111", "4155550101", "3125550112", "6175550114", "7135550115"):
        assert f"+1{leaked}" not in logs.text
        assert leaked not in logs.text.replace("12125550111", "")
    first, second = logs.parsed()
    assert first["message"] == "reply from ***0111"
    assert first["to"] == "***0101"
    assert first["numbers"] == ["***0112", {"lead": "***0114"}]
    assert first["message_id"] == "123e4567-e89b-12d3-a456-426614174000"
    assert "***0115" in second["exception"]


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    stage_settings.cache_clear()


@pytest.mark.parametrize(
    ("tether_stage", "level", "visible"),
    [
        ("local", logging.DEBUG, True),
        ("local", logging.INFO, False),
        ("dev", logging.DEBUG, False),
        ("prod", logging.DEBUG, False),
    ],
)
def test_numbers_show_only_at_debug_on_the_local_stage(
    stage: pytest.MonkeyPatch, tether_stage: str, level: int, visible: bool
) -> None:
    stage.setenv("TETHER_STAGE", tether_stage)
    stage_settings.cache_clear()
    key = generate_key().key
    with captured_logs(level) as logs:
        logger.warning("reply from +12125550111", extra={"key": key})
    assert ("+12125550111" in logs.text) is visible
    assert key[4:] not in logs.text  # key material: never, at any level


def test_provider_error_texts_are_redacted_where_they_are_made() -> None:
    error = ProviderError(
        "twilio",
        ProviderErrorKind.INVALID_NUMBER,
        "The 'To' number +12125550111 is not a valid phone number. Bearer abc.def",
        code="21211",
    )
    assert error.reason == redact(
        "The 'To' number +12125550111 is not a valid phone number. Bearer abc.def"
    )
    assert "2125550111" not in str(error)
    assert "***0111" in error.reason
    assert "abc.def" not in error.reason
