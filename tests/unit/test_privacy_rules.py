"""The pure rules of issue 19: what HELP says, when a launch may go, what identifies a
person to erasure."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.classification import RuleBasedClassifier
from tether.domain.erasure import needles, phone_hash
from tether.domain.errors import InvalidInput
from tether.domain.model import TenantConfig
from tether.domain.worker import auto_reply_text, help_reply

CONFIG = TenantConfig(
    timezone="America/New_York",
    default_region="US",
    quiet_hours_start=time(8),
    quiet_hours_end=time(21),
    quiet_hours_by_state={},
    quiet_hours_wider_attested=False,
    timer_7d_days=7,
    timer_14d_days=14,
    timer_30d_days=30,
    gold_label_priority=100,
    call_priority=50,
    lease_hours_without_booking=18,
    lease_hours_after_appointment=24,
    lease_cooldown_minutes=60,
    lease_no_answer_retries=1,
    send_segments_per_second=None,
    send_segments_per_day=None,
    send_max_attempts=5,
    send_validity_hours=24,
    brand_name="Bright Homes",
    help_contact="help@bright.test",
)
names = st.text(st.characters(categories=("L", "N", "P", "Zs")), min_size=1, max_size=60).filter(
    str.strip
)


@given(brand=names, contact=names)
def test_help_names_the_brand_the_contact_and_how_to_stop(brand: str, contact: str) -> None:
    answer = help_reply(brand, contact)
    assert brand in answer
    assert contact in answer
    assert "Reply STOP to unsubscribe" in answer


@pytest.mark.parametrize("body", ["HELP", "help", "Info", "ayuda", "help please"])
def test_the_worker_answers_help_with_the_tenant_identity(body: str) -> None:
    classification = RuleBasedClassifier().classify(body, "US")
    answer = auto_reply_text(classification, "Bright Homes", "+1 650 555 0100")
    assert answer.startswith("Bright Homes: for help, contact +1 650 555 0100.")


@pytest.mark.parametrize(
    ("brand", "contact", "named"),
    [
        (None, "help@bright.test", "brand_name"),
        ("Bright Homes", None, "help_contact"),
        ("  ", "", "brand_name and help_contact"),
    ],
)
def test_a_launch_needs_both_names(brand: str | None, contact: str | None, named: str) -> None:
    with pytest.raises(InvalidInput, match=f"set {named} in /v1/settings"):
        replace(CONFIG, brand_name=brand, help_contact=contact).check_help_identity()
    CONFIG.check_help_identity()  # both set: no error


def test_the_phone_hash_is_sha256_of_tenant_and_number() -> None:
    tenant = uuid.UUID("0b0e7c8e-7e0f-4b8f-9a43-0d7a6f1f2c3d")
    expected = hashlib.sha256(f"{tenant}:+16505550100".encode()).hexdigest()
    assert phone_hash(tenant, "+16505550100") == expected
    assert phone_hash(uuid.uuid4(), "+16505550100") != expected  # per tenant


def test_needles_find_the_number_its_digits_emails_and_specific_names() -> None:
    assert needles("+16505550100", ["Ana", "Al", None, " Lopez "], ["ana@x.test", None]) == [
        "+16505550100",
        "16505550100",
        "Ana",
        "Lopez",
        "ana@x.test",
    ]
