"""The WebSocket API's routes ($connect, $disconnect, subscribe, ping, $default).
Everything it answers is in tether.websocket; this module hands it the event."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.observability import API_GATEWAY_REQUEST, capture_lambda_handler, logger, metrics
from tether.websocket import serve


@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_REQUEST, clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(event)
