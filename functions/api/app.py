"""/v1/...: the management API, and /console: the web console's files. Everything it
answers is in tether.api; this module hands it the event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.api.resolver import serve
from tether.observability import API_GATEWAY_REQUEST, capture_lambda_handler, logger, metrics

# console/ at the top of the repository, packaged beside this module (a symbolic link
# here, which `sam build` copies as the folder it points to)
CONSOLE_FILES = Path(__file__).with_name("console")


@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_REQUEST, clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(event, context, CONSOLE_FILES)
