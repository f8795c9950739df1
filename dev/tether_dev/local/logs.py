"""Logs a person can read in a terminal, for the local stack only (Lambda keeps
Powertools' JSON): one line per event, with the function, tenant, lead, message and
correlation id first, then the event's other keys.

    21:40:01.123 INFO  webhook   tenant=8b646aaa lead=- msg=- corr=c6af9ac6  receipt stored  outcome=accepted
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from tether_dev.local.template import STACK_NAME

# Keys Powertools adds to every line; shown in the fixed columns or not at all.
_HIDDEN = {
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "sampling_rate",
    "cold_start",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "function_name",
    "correlation_id",
    "xray_trace_id",
    "tenant_id",
    "lead_id",
    "message_id",
    "exception",
    "exception_name",
    "stack_trace",
}
_RESET, _DIM, _RED, _YELLOW = "\033[0m", "\033[2m", "\033[31m", "\033[33m"


def short(value: object) -> str:
    """The first 8 characters of an id: enough to tell rows apart on a screen."""
    text = str(value)
    return text[:8] if len(text) > 8 else text


def function_label(function_name: object) -> str:
    """tether-local-WebhookFunction → webhook."""
    name = str(function_name or "-").removeprefix(f"{STACK_NAME}-").removesuffix("Function")
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return snake or "-"


def terminal_line(log: Mapping[str, Any], *, color: bool = False) -> str:
    """One Powertools log record (its dict) as one line."""
    level = str(log.get("level") or "INFO")
    corr = log.get("correlation_id") or log.get("function_request_id")
    columns = " ".join(
        f"{label}={short(log[key]) if log.get(key) else '-'}"
        for label, key in (("tenant", "tenant_id"), ("lead", "lead_id"), ("msg", "message_id"))
    )
    extras = "  ".join(
        f"{key}={value}"
        for key, value in log.items()
        if key not in _HIDDEN and value not in (None, "", [], {})
    )
    head = f"{log.get('timestamp', '')} {level:<5} {function_label(log.get('function_name')):<12}"
    line = f"{head} {columns} corr={short(corr) if corr else '-'}  {log.get('message', '')}"
    if extras:
        line += f"  {_DIM if color else ''}{extras}{_RESET if color else ''}"
    if log.get("exception"):
        line += "\n" + str(log["exception"])
    if color and level in ("ERROR", "CRITICAL"):
        line = f"{_RED}{line}{_RESET}"
    elif color and level == "WARNING":
        line = f"{_YELLOW}{line}{_RESET}"
    return line


def use_terminal_logs(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Switch the package's Powertools logger, and the stack's own logger, to one line
    per event on `stream` (stdout by default). Keys already appended stay."""
    from tether.observability import logger

    stream = stream or sys.stdout
    color = stream.isatty()
    keys = logger.get_current_keys()
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(stream)
    handler.setFormatter(_formatter(color))
    logger.append_keys(**{k: v for k, v in keys.items() if k not in ("level", "location")})
    logger.setLevel(level)
    stack = stack_logger()
    stack.handlers.clear()
    stack_handler = logging.StreamHandler(stream)
    # a formatter of its own: the package's holds the running invocation's keys
    stack_handler.setFormatter(_formatter(color))
    stack.addHandler(stack_handler)
    stack.setLevel(level)
    stack.propagate = False
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log


def _formatter(color: bool) -> logging.Formatter:
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    return LambdaPowertoolsFormatter(
        json_serializer=lambda log: terminal_line(log, color=color),
        # time codes, not datetime ones: Powertools adds the milliseconds twice there
        datefmt="%H:%M:%S.%F",
        utc=True,
    )


def stack_logger() -> logging.Logger:
    """The local stack's own lines (gateway, pollers, schedules): a logger apart from
    the package's, whose keys belong to the invocation running."""
    return logging.getLogger("tether_local")
