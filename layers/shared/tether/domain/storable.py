"""The one rule that makes a provider's text storable in PostgreSQL.

PostgreSQL's `text` and `jsonb` cannot hold U+0000 (NUL), and UTF-8 cannot encode a
surrogate code point (U+D800 to U+DFFF), which JSON's `\\ud800` escapes and Python's
`surrogateescape` produce; `jsonb` has no NaN or Infinity either. Some SMS gateways
deliver GSM-7's `@` as byte 0x00, so such text is real and must be stored, not refused.

The rule: every NUL and every surrogate code point becomes U+FFFD (the replacement
character, visible as �); a non-finite number becomes null. A surrogate pair written as
two JSON escapes is already one character once parsed, so only unpaired ones are hit.
The webhook applies it once, to the receipt it is about to store (the readable body, the
parsed event, the headers, the identity); the original bytes are kept beside them in
`webhook_receipts.raw_bytes`, so what was replaced can always be recovered.
"""

from __future__ import annotations

import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with NUL and surrogate code points replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable(value: Any) -> Any:
    """A JSON-like value (dicts, lists, text, numbers) made storable throughout, keys too."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {storable_text(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def readable_body(body: bytes) -> str:
    """A request body as storable text: UTF-8, with undecodable bytes as U+FFFD."""
    return storable_text(body.decode("utf-8", errors="replace"))
