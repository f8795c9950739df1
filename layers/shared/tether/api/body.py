"""The API reads request bodies itself, within limits, before any route or validation
runs: a body it cannot read is a 400 that names the problem, never a 5xx from deep in a
parser (a recursion limit, Python's 4,300-digit integer limit, a lone surrogate that
PostgreSQL's driver cannot encode).

Rules: UTF-8 only, without a byte-order mark (UTF-16 and UTF-32 are refused); no NUL
characters, in bytes or as `\\u0000` (PostgreSQL text cannot hold them) and no unpaired
surrogates; JSON nested at most `MAX_DEPTH` deep; every number literal at most
`MAX_NUMBER_CHARS` characters and finite; no NaN or Infinity (not JSON)."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from tether.domain.errors import MalformedBody

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 100

# The characters that decide the depth: brackets, and the quotes and backslashes that
# say whether a bracket is inside a string.
_STRUCTURAL = re.compile(r'[\[\]{}"\\]')


def body_bytes(body: str, is_base64: bool) -> bytes:
    """The body as the client sent it."""
    if not is_base64:
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError as error:
            raise MalformedBody("the body is not valid UTF-8") from error
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedBody("the body's base64 encoding is broken") from error


def read_text(raw: bytes) -> str:
    """The body as text: strict UTF-8, no BOM, no NUL."""
    if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        raise MalformedBody("the body starts with a byte-order mark: send UTF-8 without one")
    if b"\x00" in raw:
        raise MalformedBody(
            "the body holds NUL bytes: send UTF-8 (UTF-16 and UTF-32 are not accepted)"
        )
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as error:
        raise MalformedBody(
            f"the body is not valid UTF-8 (byte {error.start}); send UTF-8"
        ) from error


def read_json(text: str) -> Any:
    """The JSON value of `text`, or MalformedBody saying what is wrong with it."""
    depth = _max_depth(text)
    if depth > MAX_DEPTH:
        raise MalformedBody(f"the JSON is nested {depth} levels deep; at most {MAX_DEPTH}")
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_decimal, parse_constant=_not_json)
    except json.JSONDecodeError as error:
        raise MalformedBody(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    _check_strings(value)
    return value


def _max_depth(text: str) -> int:
    """Bracket depth outside strings, in one pass over the structural characters (an
    unbalanced text is JSON's parser's to refuse). A regular expression for whole
    strings would backtrack from every quote of an unterminated one: a 100 KB body of
    `"\\` took 30 s that way."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1  # the position a backslash escapes
    for match in _STRUCTURAL.finditer(text):
        at, char = match.start(), match.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _integer(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise MalformedBody(
            f"a number in the body has {len(literal)} characters; at most {MAX_NUMBER_CHARS}"
        )
    return int(literal)


def _decimal(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise MalformedBody(
            f"a number in the body has {len(literal)} characters; at most {MAX_NUMBER_CHARS}"
        )
    number = float(literal)
    if not math.isfinite(number):
        raise MalformedBody(f"the number {literal[:20]} is too large")
    return number


def _not_json(literal: str) -> Any:
    raise MalformedBody(f"{literal} is not a JSON value; send a finite number or null")


def _check_strings(value: Any) -> None:
    """Every string and key: encodable as UTF-8 (no lone surrogate from a `\\ud800`
    escape) and free of NUL (from `\\u0000`)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise MalformedBody("a text in the body holds a NUL character (\\u0000)")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as error:
                raise MalformedBody(
                    "a text in the body holds an unpaired surrogate (\\ud800-\\udfff)"
                ) from error
