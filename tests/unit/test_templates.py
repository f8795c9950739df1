"""Templates with merge fields: parsed into literal text and fields, refused with the
field and position when broken, rendered per lead with fallbacks; and the weighted,
stable choice of a lead's variant."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.domain.campaigns import Campaign, CampaignStatus, check_campaign_texts
from tether.domain.errors import InvalidInput, InvalidState
from tether.domain.lead_state import LeadState
from tether.domain.model import Lead
from tether.domain.templates import (
    Field,
    MergeValues,
    MissingMergeValue,
    Template,
    TemplateError,
    Variant,
    check_template,
    choose_variant,
    custom_field_name,
    parse,
    render,
)

ANA = MergeValues("Ana", "Lopez", "Acme", "Sam", {"city": "Oakland"})


def test_fields_fallbacks_and_doubled_braces_render() -> None:
    text = "Hi {first_name|there}, {sender_name} of {company} here. {{ok}} {custom.city}?"
    assert render(parse(text), ANA) == "Hi Ana, Sam of Acme here. {ok} Oakland?"
    assert (
        render(parse("Hi {first_name|there}!"), MergeValues(first_name="  ")) == "Hi there!"
    )  # blank is missing
    assert render(parse("Hi{first_name|}!"), MergeValues()) == "Hi!"  # asked for nothing


def test_field_names_ignore_case_and_spaces() -> None:
    assert parse("{ First_Name | friend }").parts == (Field("first_name", " friend ", 0),)
    assert render(parse("{CUSTOM.City}"), ANA) == "Oakland"


def test_a_missing_value_without_fallback_refuses_naming_the_field() -> None:
    with pytest.raises(MissingMergeValue, match=r"no first_name .*\{first_name\|\.\.\.\}"):
        render(parse("Hi {first_name}"), MergeValues())
    with pytest.raises(MissingMergeValue, match=r"custom\.city"):
        render(parse("{custom.city}"), MergeValues(custom={"town": "x"}))


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("Hi {frist_name}", 3, "unknown field {frist_name}"),
        ("Hi {first_name", 3, "never closed"),
        ("Hi {first_name {last_name}", 3, "never closed"),
        ("Hi {} there", 3, "has no name"),
        ("Hi { |x} there", 3, "has no name"),
        ("50% off} now", 7, "closes no field"),
        ("{custom.}", 0, "not a custom field name"),
        ("{custom.a b}", 0, "not a custom field name"),
        ("ok {{ {first_name} }} {city}", 22, "unknown field {city}"),
    ],
)
def test_a_broken_template_names_the_problem_and_where(
    text: str, position: int, words: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(text)
    assert caught.value.position == position
    assert words in str(caught.value)
    assert f"at position {position}" in str(caught.value)


def test_checks_name_where_and_need_a_sender_name_for_sender_name() -> None:
    with pytest.raises(TemplateError, match=r"variant 'b': unknown field \{nme\}"):
        check_campaign_texts(None, [Variant("a", "Hi"), Variant("b", "Hi {nme}")], None, None)
    with pytest.raises(TemplateError, match="no sender_name"):
        check_template("From {sender_name}", None)
    check_template("From {sender_name|us}", None)
    check_template("From {sender_name}", "Sam")
    with pytest.raises(InvalidInput, match="not both"):
        check_campaign_texts("Hi", [Variant("a", "Hi")], None, None)
    with pytest.raises(InvalidInput, match="named twice"):
        check_campaign_texts(None, [Variant("a", "Hi"), Variant("a", "Yo")], None, None)
    with pytest.raises(InvalidInput, match="weight"):
        check_campaign_texts(None, [Variant("a", "Hi", 0)], None, None)
    with pytest.raises(TemplateError, match=r"follow_up_template: a '\{' is never closed"):
        check_campaign_texts("Hi", [], "Still {there", None)


def test_spreadsheet_columns_become_custom_field_names() -> None:
    assert custom_field_name(" Home City ") == "home_city"
    assert custom_field_name("Lead Source (2024)") == "lead_source_2024"
    assert custom_field_name("№") is None
    assert custom_field_name("x" * 80) == "x" * 64


# --- whole classes of text

NO_SURROGATES: list[Literal["Cs"]] = ["Cs"]
# Every Unicode category, surrogates aside (a str that PostgreSQL and JSON cannot hold).
ANY_TEXT = st.text(st.characters(exclude_categories=NO_SURROGATES), max_size=200)
LITERAL = st.text(
    st.characters(exclude_categories=NO_SURROGATES, exclude_characters="{}"), max_size=40
)
FIELD_NAMES = st.sampled_from(
    ["first_name", "last_name", "company", "sender_name", "custom.city", "custom.a-b.c_1"]
)
FALLBACK = st.none() | st.text(
    st.characters(exclude_categories=NO_SURROGATES, exclude_characters="{}"), max_size=10
)


def _positions_free(template: Template, rebuilt: str) -> Template:
    """`template` with each field's position where it falls in `rebuilt`."""
    return Template(
        tuple(
            part if isinstance(part, str) else Field(part.name, part.fallback, position)
            for part, position in zip(
                template.parts, _field_positions(template, rebuilt), strict=True
            )
        )
    )


def _field_positions(template: Template, rebuilt: str) -> list[int]:
    positions, at = [], 0
    for part in template.parts:
        if isinstance(part, str):
            positions.append(-1)
            at += len(_escape(part))
        else:
            positions.append(at)
            at += 2 + len(part.name) + (0 if part.fallback is None else 1 + len(part.fallback))
    return positions


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


@settings(max_examples=300)
@given(ANY_TEXT)
def test_any_text_parses_or_names_a_position_inside_it(text: str) -> None:
    problem: TemplateError | None = None
    try:
        template = parse(text)
    except TemplateError as error:
        problem = error
    if problem is not None:
        assert 0 <= problem.position < len(text)
        assert text[problem.position] in "{}"
    else:
        # what parses is literal text and known fields, and gives its text back once
        # each field is written out again
        assert all(isinstance(part, str | Field) for part in template.parts)
        rebuilt = "".join(
            _escape(part)
            if isinstance(part, str)
            else "{" + part.name + ("" if part.fallback is None else "|" + part.fallback) + "}"
            for part in template.parts
        )
        assert parse(rebuilt) == _positions_free(template, rebuilt)


@settings(max_examples=300)
@given(ANY_TEXT)
def test_escaped_text_is_literal_whatever_it_holds(text: str) -> None:
    template = parse(_escape(text))
    assert template.fields == ()
    assert render(template, MergeValues()) == text


@settings(max_examples=300)
@given(
    st.lists(st.tuples(LITERAL, FIELD_NAMES, FALLBACK), max_size=6),
    LITERAL,
    st.fixed_dictionaries({}, optional={"first_name": ANY_TEXT, "company": ANY_TEXT}),
)
def test_a_built_template_renders_each_value_or_its_fallback(
    pieces: list[tuple[str, str, str | None]], tail: str, given_values: dict[str, str]
) -> None:
    source = "".join(
        _escape(lit) + "{" + name + ("" if fb is None else "|" + fb) + "}"
        for lit, name, fb in pieces
    ) + _escape(tail)
    values = MergeValues(
        first_name=given_values.get("first_name"),
        company=given_values.get("company"),
        sender_name="Sam",
        custom={"city": "Oakland"},
    )
    template = parse(source)
    assert [f.name for f in template.fields] == [name for _, name, _ in pieces]
    expected: list[str] = []
    missing = None
    for lit, name, fb in pieces:
        expected.append(lit)
        value = (values.value(name) or "").strip()
        if value:
            expected.append(value)
        elif fb is not None:
            expected.append(fb)
        elif missing is None:
            missing = name
    expected.append(tail)
    if missing is not None:
        with pytest.raises(MissingMergeValue) as caught:
            render(template, values)
        assert caught.value.field == missing
    else:
        assert render(template, values) == "".join(expected)


# --- variants

CAMPAIGN = uuid.UUID("0b9a4a3e-4f56-4c56-9d0c-7c1f3a1d2e01")


def test_weights_share_the_leads_three_to_one() -> None:
    variants = [Variant("a", "A", 3), Variant("b", "B", 1)]
    counts = Counter(
        choose_variant(CAMPAIGN, uuid.UUID(int=n * 7919 + 1), variants).name for n in range(10_000)
    )
    assert abs(counts["a"] / 10_000 - 0.75) < 0.02
    assert counts["a"] + counts["b"] == 10_000


def test_a_lead_gets_the_same_variant_in_any_order_and_any_process() -> None:
    variants = [Variant("b", "B", 2), Variant("a", "A", 1), Variant("c", "C", 5)]
    leads = [uuid.UUID(int=n * 104729 + 3) for n in range(200)]
    here = [choose_variant(CAMPAIGN, lead, variants).name for lead in leads]
    assert here == [choose_variant(CAMPAIGN, lead, variants[::-1]).name for lead in leads]
    script = (
        "import uuid; from tether.domain.templates import Variant, choose_variant;"
        f"vs = [Variant('b', 'B', 2), Variant('a', 'A', 1), Variant('c', 'C', 5)];"
        f"print(','.join(choose_variant(uuid.UUID('{CAMPAIGN}'), uuid.UUID(int=n * 104729 + 3),"
        " vs).name for n in range(200)))"
    )
    # another interpreter, with another hash seed: Python's hash() would differ
    other = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert other.stdout.strip().split(",") == here


def _campaign(**overrides: object) -> Campaign:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    values: dict[str, object] = {
        "id": CAMPAIGN,
        "tenant_id": uuid.uuid4(),
        "name": "c",
        "workspace_stage": "initial_message",
        "ai_worker": "gianna",
        "pool": "p",
        "template": None,
        "follow_up_template": None,
        "status": CampaignStatus.STAGED,
        "staged_at": now,
        "launched_at": None,
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    return Campaign(**values)  # type: ignore[arg-type]


def test_a_campaign_with_variants_is_launchable_and_composes_the_leads_variant() -> None:
    with pytest.raises(InvalidState, match="no template"):
        _campaign().check_launchable()
    campaign = _campaign(variants=(Variant("a", "Hi {first_name|there}", 1),))
    campaign.check_launchable()
    lead = Lead(uuid.uuid4(), uuid.uuid4(), CAMPAIGN, "+14155550134", LeadState.NEW)
    composed = campaign.compose(lead)
    assert (composed.body, composed.variant) == ("Hi there", "a")
    plain = _campaign(template="Yo {first_name|you}")
    assert plain.compose(lead).variant == "default"
    assert plain.compose(lead, "Follow {first_name|up}").variant is None
    with pytest.raises(InvalidState, match="launched"):
        _campaign(launched_at=datetime(2026, 1, 2, tzinfo=UTC)).check_templates_editable()


@settings(max_examples=100)
@given(
    st.dictionaries(
        st.text("abcdefgh-_0", min_size=1, max_size=5).filter(lambda n: n[0] not in "-_"),
        st.integers(1, 1000),
        min_size=1,
        max_size=8,
    ),
    st.uuids(),
    st.uuids(),
    st.randoms(use_true_random=False),
)
def test_any_weights_choose_one_of_the_variants_whatever_their_order(
    weights: dict[str, int], campaign_id: uuid.UUID, lead_id: uuid.UUID, rng: Any
) -> None:
    variants = [Variant(name, name, weight) for name, weight in weights.items()]
    chosen = choose_variant(campaign_id, lead_id, variants)
    assert chosen in variants
    rng.shuffle(variants)
    assert choose_variant(campaign_id, lead_id, variants) == chosen
