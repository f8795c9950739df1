"""The WebSocket API's $connect authorizer (REQUEST, identity source the `api_key`
query parameter). Everything it decides is in tether.websocket.authorize."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.observability import API_GATEWAY_REQUEST, capture_lambda_handler, logger, metrics
from tether.websocket import authorize


@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_REQUEST, clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event)
