"""API keys: made random, recognised by hash, read from the Authorization header."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.domain.api_keys import (
    KEY_PREFIX,
    MAX_KEY_LENGTH,
    bearer_token,
    generate_key,
    hash_key,
    well_formed_key,
)


def test_a_new_key_is_random_and_only_its_hash_and_prefix_are_kept() -> None:
    first, second = generate_key(), generate_key()
    assert first.key != second.key
    assert first.key.startswith(KEY_PREFIX)
    assert len(first.key) > 40
    assert first.key_hash == hashlib.sha256(first.key.encode()).digest() == hash_key(first.key)
    assert first.key.startswith(first.prefix)
    assert len(first.prefix) == 12


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer tth_abc", "tth_abc"),
        ("bearer   tth_abc  ", "tth_abc"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic tth_abc", None),
        ("Bearer other_abc", None),
        ("Bearer tth_\u00e9", None),
        ("Bearer tth_" + "a" * 300, None),
    ],
)
def test_bearer_token(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_scopes_are_ordered_and_a_key_issues_at_most_its_own() -> None:
    from tether.domain.api_keys import Scope, may_issue

    assert Scope.ADMIN.allows(Scope.WRITE)
    assert Scope.WRITE.allows(Scope.READ)
    assert not Scope.READ.allows(Scope.WRITE)
    assert not Scope.WRITE.allows(Scope.ADMIN)
    assert may_issue(Scope.WRITE, Scope.WRITE)
    assert may_issue(Scope.ADMIN, Scope.READ)
    assert not may_issue(Scope.READ, Scope.WRITE)
    assert not may_issue(Scope.WRITE, Scope.ADMIN)


@given(st.one_of(st.none(), st.text(max_size=250), st.text(max_size=60).map(KEY_PREFIX.__add__)))
def test_a_query_parameters_key_is_itself_when_it_has_a_keys_form_else_none(
    token: str | None,
) -> None:
    """The WebSocket's ?api_key= is read by the bearer header's rules."""
    found = well_formed_key(token)
    if found is not None:
        assert found == token
        assert found.startswith(KEY_PREFIX)
        assert len(found) <= MAX_KEY_LENGTH
        assert found.isascii()
        assert found.isprintable()
    if token is not None and token == token.strip():  # the header's rules, the same answer
        assert bearer_token(f"Bearer {token}") == found
    assert well_formed_key(generate_key().key) is not None
