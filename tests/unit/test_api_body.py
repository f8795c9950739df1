"""The API's own body reader: what it refuses, and that it names why."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.api.body import MAX_DEPTH, MAX_NUMBER_CHARS, body_bytes, read_json, read_text
from tether.api.errors import MalformedBody


def read(raw: bytes) -> object:
    return read_json(read_text(raw))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"name": "\xff"}', "not valid UTF-8"),
        ('{"name": "x"}'.encode("utf-16"), "byte-order mark"),
        ('{"name": "x"}'.encode("utf-16-le"), "NUL bytes"),
        ('{"name": "x"}'.encode("utf-8-sig"), "byte-order mark"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested"),
        (b'{"n": ' + b"9" * (MAX_NUMBER_CHARS + 1) + b"}", "characters"),
        (b'{"n": 1e400}', "too large"),
        (b'{"n": NaN}', "not a JSON value"),
        (b'{"n": -Infinity}', "not a JSON value"),
        (b'{"t": "a\\u0000b"}', "NUL character"),
        (b'{"t": "\\ud800"}', "unpaired surrogate"),
        (b'{"\\udfff": 1}', "unpaired surrogate"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_unreadable_bodies_are_refused_saying_why(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedBody, match=reason):
        read(raw)


def test_what_json_allows_within_the_limits_is_read() -> None:
    assert read(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert read(b'{"n": ' + b"9" * MAX_NUMBER_CHARS + b"}") == {"n": int("9" * 100)}
    assert read(b'{"t": "\\ud83d\\ude00 [{ \\" ]]]"}') == {"t": '\U0001f600 [{ " ]]]'}
    assert read(b'{"t": "\xc3\xa9"}') == {"t": "\u00e9"}


def test_a_base64_body_is_decoded_strictly() -> None:
    assert body_bytes(base64.b64encode(b"\xff\x00").decode(), True) == b"\xff\x00"
    with pytest.raises(MalformedBody):
        body_bytes("not base64!", True)
    with pytest.raises(MalformedBody):
        body_bytes("\ud800", False)


@given(st.binary(max_size=200))
def test_any_bytes_are_read_or_refused_with_malformed_body(raw: bytes) -> None:
    try:
        read(raw)
    except MalformedBody as error:
        message = str(error)
    else:
        message = "read"
    assert message


@given(st.recursive(st.none() | st.integers() | st.text(), st.lists, max_leaves=20))
def test_any_json_of_valid_text_within_limits_reads_back(value: object) -> None:
    text = json.dumps(value)
    try:
        assert read(text.encode("utf-8", errors="surrogatepass")) == value
    except MalformedBody as error:
        refusal = str(error)
    else:
        return
    # only what the limits and PostgreSQL's text exclude
    assert any(word in refusal for word in ("NUL", "surrogate", "characters", "UTF-8"))


def test_brackets_inside_strings_and_escapes_do_not_count_towards_depth() -> None:
    inside = json.dumps(["[" * 100, "\\" + "{" * 100, '"]"' + "[" * 100])
    assert read(inside.encode()) == json.loads(inside)
    deep = "[" * MAX_DEPTH + json.dumps('\\"]]]') + "]" * MAX_DEPTH
    assert read(deep.encode()) == json.loads(deep)
    with pytest.raises(MalformedBody, match="nested"):
        read(("[" + deep + "]").encode())


@pytest.mark.parametrize(
    "raw",
    [
        b'"\\' * 200_000,  # one unterminated string of escaped quotes
        b'\\"' * 200_000,
        b'x"' + b'a\\"' * 200_000,
    ],
)
def test_unterminated_strings_of_escapes_are_refused_as_json(raw: bytes) -> None:
    # a whole-string regular expression took 30 s on 100 KB of these; one pass does not
    with pytest.raises(MalformedBody, match="not valid JSON"):
        read(raw)
