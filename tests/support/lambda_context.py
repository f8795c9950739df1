"""The LambdaContext a function's handler gets, for tests that call it as Lambda would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContextStub:
    function_name: str = "tether-test"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_millis: int = 30_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis
