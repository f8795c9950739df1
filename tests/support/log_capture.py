"""Log lines as Lambda would write them: the package logger's own formatter (with its
redaction) on a handler of the test's, so nothing depends on pytest's capture."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tether.observability import logger


@dataclass
class LogLines:
    stream: io.StringIO

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.text.splitlines()]


@contextmanager
def captured_logs(level: int = logging.INFO) -> Iterator[LogLines]:
    """What the `tether` logger writes inside the block, at `level` and above."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger("tether")
    previous = target.level
    target.addHandler(handler)
    target.setLevel(level)
    try:
        yield LogLines(stream)
    finally:
        target.removeHandler(handler)
        target.setLevel(previous)
