"""Exactly once per key: Powertools idempotency with its records in DynamoDB.

The guard goes around one use-case function, not around the whole handler: an error
response must never be stored and replayed. While one call with a key runs, another
with the same key gets InProgress (the first call's record expires with its Lambda
invocation, so a crash does not block the key for long); once it has finished, the
other gets the first call's result back without running anything. The payload's
fingerprint is validated: the same key with different content is IdempotencyKeyReused.

Powertools idempotency (which loads boto3) and the DynamoDB client are loaded on the
first `run`, not when the store is made: a webhook refused before it reaches the guard
(a bad signature, an unknown account, the database down) loads neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel

from tether.domain.errors import DependencyUnavailable, IdempotencyKeyReused, InProgress
from tether.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext

DataT = TypeVar("DataT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)


class DynamoDbExactlyOnce:
    """`data` must have the fields `idempotency_key` and `fingerprint`."""

    def __init__(
        self,
        table_name: str,
        *,
        key_prefix: str,
        expires_after_seconds: int,
        client: Any = None,
    ) -> None:
        self._table_name = table_name
        self._key_prefix = key_prefix
        self._expires_after_seconds = expires_after_seconds
        self._client = client
        self._lambda_context: LambdaContext | None = None

    @cached_property
    def _config(self) -> IdempotencyConfig:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        config = IdempotencyConfig(
            event_key_jmespath="idempotency_key",
            payload_validation_jmespath="fingerprint",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self._expires_after_seconds,
        )
        if self._lambda_context is not None:
            config.register_lambda_context(self._lambda_context)
        return config

    @cached_property
    def _store(self) -> DynamoDBPersistenceLayer:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        from tether.aws.clients import aws_client

        return DynamoDBPersistenceLayer(
            table_name=self._table_name, boto3_client=self._client or aws_client("dynamodb")
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """An in-progress record then expires when this invocation would time out."""
        self._lambda_context = context
        if "_config" in self.__dict__:  # made: it keeps the invocation's context itself
            self._config.register_lambda_context(context)

    def run(
        self, use_case: Callable[[DataT], ResultT], data: DataT, result_type: type[ResultT]
    ) -> tuple[ResultT, bool]:
        """`use_case(data)` unless it already ran for this key. Returns the result and
        whether it was replayed from the store (True: nothing ran this time)."""
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )
        from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import (
            PydanticSerializer,
        )

        ran: list[ResultT] = []

        def once(*, data: DataT) -> ResultT:
            result = use_case(data)
            ran.append(result)
            return result

        guarded = idempotent_function(
            once,
            data_keyword_argument="data",
            persistence_store=self._store,
            config=self._config,
            output_serializer=PydanticSerializer(result_type),
            key_prefix=self._key_prefix,
        )
        try:
            result = cast(ResultT, guarded(data=data))
        except IdempotencyAlreadyInProgressError as error:
            raise InProgress("the same event is being handled right now") from error
        except IdempotencyInconsistentStateError as error:
            # the record vanished between two reads: a concurrent call with this key just
            # failed and removed it. Nothing ran here; the provider's retry will.
            raise InProgress("the same event was being handled a moment ago") from error
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReused(
                "this event id was already used for different content"
            ) from error
        except IdempotencyPersistenceLayerError as error:
            if ran:
                # the use case finished; only recording that in DynamoDB failed. A retry
                # will run it again, and the use case is idempotent on its own.
                logger.warning("idempotency record not saved", extra={"error": str(error)})
                return ran[0], False
            raise DependencyUnavailable("the idempotency store", str(error)) from error
        return result, not ran
