"""/v1/...: the management API. Everything it answers is in tether.api; this module
hands it the event."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.api.resolver import serve
from tether.observability import API_GATEWAY_REQUEST, capture_lambda_handler, logger, metrics


@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_REQUEST, clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(event, context)
