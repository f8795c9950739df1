"""Provider secrets belong to Tether: clients hand over values, Tether keeps them in
Secrets Manager and the database keeps only the secret's name.

Every provider-account secret lives under one path per stage and tenant,

    tether/{stage}/tenants/{tenant_id}/provider-accounts/{account_id}/{kind}

and so does each webhook subscription's signing secret (issue 16),

    tether/{stage}/tenants/{tenant_id}/event-subscriptions/{subscription_id}/signing-secret

and a reference is that name exactly (``#AWSPREVIOUS`` appended for the signing secret
a rotation replaced, during its grace period). At use, `resolve_secret` refuses any
reference that is not under the calling tenant's path in this stage: an ARN (full or
partial), another tenant's or stage's name, a path with ``..``, a name with a suffix.
IAM narrows each function to its stage's ``tether/`` path as a second wall.

``local:<value>`` is the value itself, accepted only when the stage is local (the local
stack and the tests): nowhere else may a secret sit in the database.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from tether.domain.errors import ConfigurationError, DependencyUnavailable

LOCAL_PREFIX = "local:"
PREVIOUS_VERSION = "#AWSPREVIOUS"
CACHE_SECONDS = 300  # a rotated secret is picked up within this
TENANT_TAG = "tether:tenant_id"
STAGE_TAG = "tether:stage"

SecretKind = Literal["credentials", "signing-secret"]

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_REFERENCE = re.compile(
    rf"tether/(?P<stage>[a-z0-9]+)/tenants/(?P<tenant>{_UUID})"
    rf"/(?:provider-accounts|event-subscriptions)/(?P<account>{_UUID})"
    rf"/(?P<kind>credentials|signing-secret)"
    rf"(?P<previous>{PREVIOUS_VERSION})?"
)


class SecretRefused(ConfigurationError):
    """A secret reference outside the calling tenant's path (or a `local:` one outside
    the local stage): it is never read."""


def secret_name(stage: str, tenant_id: UUID, account_id: UUID, kind: SecretKind) -> str:
    """Where a provider account's secret of `kind` lives in Secrets Manager."""
    return f"tether/{stage}/tenants/{tenant_id}/provider-accounts/{account_id}/{kind}"


def subscription_secret_name(stage: str, tenant_id: UUID, subscription_id: UUID) -> str:
    """Where a webhook subscription's signing secret lives (Tether generates it)."""
    return (
        f"tether/{stage}/tenants/{tenant_id}/event-subscriptions/{subscription_id}/signing-secret"
    )


def tenant_path(stage: str, tenant_id: UUID) -> str:
    return f"tether/{stage}/tenants/{tenant_id}/"


@dataclass(frozen=True)
class SecretLocation:
    name: str
    previous: bool  # the version a rotation replaced (AWSPREVIOUS)


def check_reference(ref: str, tenant_id: UUID, stage: str) -> SecretLocation | str:
    """Where `ref` may be read for `tenant_id` in `stage`: a Secrets Manager location,
    or for `local:` the value itself. Raises SecretRefused for anything else."""
    if ref.startswith(LOCAL_PREFIX):
        if stage != "local":
            raise SecretRefused("local: secret references are accepted on the local stage only")
        return ref.removeprefix(LOCAL_PREFIX)
    match = _REFERENCE.fullmatch(ref)
    if match is None:
        raise SecretRefused(
            "a secret reference must be a name under tether/{stage}/tenants/{tenant}/"
            "provider-accounts/ (Tether writes these itself; ARNs are not accepted)"
        )
    if match["stage"] != stage or UUID(match["tenant"]) != tenant_id:
        raise SecretRefused("the secret reference is outside this tenant's path in this stage")
    name = ref.removesuffix(PREVIOUS_VERSION)
    return SecretLocation(name, previous=match["previous"] is not None)


def resolve_secret(ref: str, tenant_id: UUID) -> str:
    """The value `ref` points at, for `tenant_id`. Raises SecretRefused for a reference
    outside the tenant's path, DependencyUnavailable when Secrets Manager cannot be read."""
    from tether.config import stage_settings

    where = check_reference(ref, tenant_id, stage_settings().tether_stage)
    if isinstance(where, str):
        return where
    return _cache.get(where)


class _SecretCache:
    """Values read from Secrets Manager, kept CACHE_SECONDS per container."""

    def __init__(self) -> None:
        self._values: dict[SecretLocation, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, where: SecretLocation) -> str:
        now = time.monotonic()
        with self._lock:
            cached = self._values.get(where)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        value = read_secret(where)
        with self._lock:
            self._values[where] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


_cache = _SecretCache()
clear_secret_cache = _cache.clear


def database_login(secret_arn: str) -> str:
    """The database login secret of this function's role (DB_SECRET_ARN, the
    template's, not a tenant's: no path check), kept CACHE_SECONDS like the rest and
    read through the container's one AWS session."""
    return _cache.get(SecretLocation(secret_arn, previous=False))


def read_secret(where: SecretLocation) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from tether.aws.clients import aws_client

    options: dict[str, Any] = {"SecretId": where.name}
    if where.previous:
        options["VersionStage"] = "AWSPREVIOUS"
    try:
        answer = aws_client("secretsmanager").get_secret_value(**options)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("ResourceNotFoundException", "AccessDeniedException"):
            raise ConfigurationError(f"secret {where.name} cannot be read: {code}") from error
        raise DependencyUnavailable("Secrets Manager", code or str(error)) from error
    except BotoCoreError as error:
        raise DependencyUnavailable("Secrets Manager", str(error)) from error
    return str(answer["SecretString"])


class SecretStore:
    """Writes provider-account secrets to Secrets Manager (the API's door to it). The
    client is made on first use, or given (tests)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from tether.aws.clients import aws_client

            self._client = aws_client("secretsmanager")
        return self._client

    def put(
        self,
        name: str,
        value: str,
        *,
        tenant_id: UUID,
        stage: str,
        description: str = "Tether provider account secret (written by the API)",
    ) -> bool:
        """Write `value` as the current version of `name`; returns True when the secret
        already existed (its old value is now AWSPREVIOUS)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                self.client.create_secret(
                    Name=name,
                    SecretString=value,
                    Description=description,
                    Tags=[
                        {"Key": TENANT_TAG, "Value": str(tenant_id)},
                        {"Key": STAGE_TAG, "Value": stage},
                    ],
                )
                return False
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ResourceExistsException":
                    raise
            self.client.put_secret_value(SecretId=name, SecretString=value)
            return True
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("Secrets Manager", str(error)) from error

    def delete(self, name: str) -> None:
        """Remove `name` at once (a registration that did not commit); best effort."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except (ClientError, BotoCoreError):
            from tether.observability import logger

            logger.warning("orphan secret left behind", extra={"secret_name": name})
