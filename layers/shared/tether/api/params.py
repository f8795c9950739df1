"""Query parameters many routes share."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from tether.domain.pagination import MAX_LIMIT

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the page before")
]
# Read by tether.api.idempotency; declared on each creating POST so the document shows it.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="carry the request out once; a repeat gets the first answer back",
    ),
]
