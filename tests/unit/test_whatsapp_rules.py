"""WhatsApp's rules as pure decisions (issue 18): the 24-hour customer-service window as
a send gate (its edge included), approved templates' {{n}} variables, and `whatsapp:`
addresses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.channels import capabilities
from tether.domain.errors import InvalidInput
from tether.domain.send_gates import session_window_refusal
from tether.domain.whatsapp import (
    check_template_body,
    placeholders,
    render_template,
    split_address,
)
from tether.webhooks.providers.base import channel_addresses

WINDOW = timedelta(hours=24)
moments = st.datetimes(
    min_value=datetime(2001, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2099, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
# from a day before the person's message (clocks differ) to three days after it
offsets = st.timedeltas(min_value=-timedelta(days=1), max_value=timedelta(days=3))


def test_the_window_comes_from_the_channel_capabilities() -> None:
    assert capabilities("whatsapp").session_window == WINDOW
    assert capabilities("sms").session_window is None


@given(last=moments, offset=offsets)
def test_free_form_text_goes_exactly_while_the_window_is_open(
    last: datetime, offset: timedelta
) -> None:
    refusal = session_window_refusal("whatsapp", last, last + offset, templated=False)
    assert (refusal is None) == (offset < WINDOW)
    if refusal is not None:
        assert refusal.code == "session_window_closed"
        assert (last + WINDOW).isoformat() in refusal.reason
        assert "template" in refusal.reason


@given(last=moments, offset=offsets)
def test_an_approved_template_goes_whenever(last: datetime, offset: timedelta) -> None:
    assert session_window_refusal("whatsapp", last, last + offset, templated=True) is None


@given(last=st.none() | moments, now=moments, channel=st.sampled_from(["sms", "mms"]))
def test_sms_and_mms_have_no_window(last: datetime | None, now: datetime, channel: str) -> None:
    assert session_window_refusal(channel, last, now, templated=False) is None


@given(last=moments)
def test_the_edge_the_last_microsecond_is_in_and_the_closing_instant_is_out(
    last: datetime,
) -> None:
    closing = last + WINDOW
    assert session_window_refusal("whatsapp", last, closing - timedelta(microseconds=1), templated=False) is None  # fmt: skip
    assert session_window_refusal("whatsapp", last, closing, templated=False) is not None


def test_a_thread_the_person_never_wrote_on_has_no_window() -> None:
    refusal = session_window_refusal("whatsapp", None, datetime.now(UTC), templated=False)
    assert refusal is not None
    assert "never opened" in refusal.reason


values = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="{}"),
    min_size=1,
    max_size=40,
).filter(lambda text: text.strip() != "")


@given(first=values, second=values)
def test_a_template_renders_every_placeholder_with_its_value(first: str, second: str) -> None:
    body = "Hi {{1}}, your slot is {{2}}. Bye {{1}}!"
    assert render_template(body, {"1": first, "2": second}) == (
        f"Hi {first}, your slot is {second}. Bye {first}!"
    )


def test_a_template_refuses_missing_blank_and_unknown_values() -> None:
    body = "Hi {{1}}, your slot is {{2}}."
    with pytest.raises(InvalidInput, match=r"needs a value for \{\{2\}\}"):
        render_template(body, {"1": "Ana"})
    with pytest.raises(InvalidInput, match="needs a value"):
        render_template(body, {"1": "Ana", "2": "  "})
    with pytest.raises(InvalidInput, match="no variable 3"):
        render_template(body, {"1": "Ana", "2": "12/1", "3": "x"})


def test_template_variables_are_numbered_without_gaps() -> None:
    assert placeholders("{{2}} and {{ 1 }} and {{2}}") == ["2", "1"]
    check_template_body("no variables at all")
    check_template_body("{{1}} {{2}}")
    with pytest.raises(InvalidInput, match="without gaps"):
        check_template_body("{{1}} {{3}}")


e164 = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)


@given(number=e164, prefix=st.sampled_from(["whatsapp:", "WhatsApp:", " whatsapp: "]))
def test_a_whatsapp_address_loses_its_prefix(number: str, prefix: str) -> None:
    assert split_address(prefix + number) == (True, number)
    assert split_address(number) == (False, number)


@given(ours=e164, theirs=e164)
def test_one_whatsapp_address_makes_the_event_whatsapp(ours: str, theirs: str) -> None:
    assert channel_addresses(f"whatsapp:{theirs}", f"whatsapp:{ours}") == (
        "whatsapp",
        [theirs, ours],
    )
    assert channel_addresses(theirs, ours) == ("sms", [theirs, ours])
    assert channel_addresses(theirs, None, whatsapp=True) == ("whatsapp", [theirs, None])
