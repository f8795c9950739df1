"""One logger and one metrics object for the whole package (Powertools).

Every log line goes through `RedactingFormatter`: no key material, ever, and phone
numbers masked to their last four digits, except with LogLevel=DEBUG on the local stage
(where a developer needs to see which lead is which)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from tether.domain.redaction import redact, redact_key_material

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord

# Keys Powertools fills itself: never a phone number or a key, and left as they are.
_OWN_KEYS = frozenset(
    {
        "level",
        "location",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "correlation_id",
    }
)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with every other string value redacted (recursively)."""

    def serialize(self, log: LogRecord) -> str:
        rule = redact_key_material if _phone_numbers_visible() else redact
        cleaned = {
            key: value if key in _OWN_KEYS else _cleaned(value, rule) for key, value in log.items()
        }
        return super().serialize(cleaned)


def _cleaned(value: Any, rule: Any) -> Any:
    if isinstance(value, str):
        return rule(value)
    if isinstance(value, dict):
        return {key: _cleaned(item, rule) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cleaned(item, rule) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # anything else the JSON serializer would print with str() (exceptions, UUIDs)
    return rule(str(value))


def _phone_numbers_visible() -> bool:
    from tether.config import stage_settings

    return (
        stage_settings().is_local
        and logging.getLogger("tether").getEffectiveLevel() <= logging.DEBUG
    )


logger = Logger(service="tether", logger_formatter=RedactingFormatter())
metrics = Metrics(namespace="Tether", service="tether")
