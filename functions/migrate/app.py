"""Applies pending migrations to the stack's database; invoked once after each deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.db.migrations import apply_pending
from tether.observability import capture_lambda_handler, logger

# The SQL files ship beside this module (a symlink to the top-level migrations/).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    applied = apply_pending(MIGRATIONS)
    logger.info("migrations done", extra={"applied": applied})
    return {"applied": applied}
