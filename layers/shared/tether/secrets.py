"""Secret references: the database keeps where a secret lives, never the secret.

- ``arn:aws:secretsmanager:...`` is read from Secrets Manager through Powertools
  parameters, cached for five minutes (a rotated secret is picked up within that).
- ``local:<value>`` is the value itself, for development and tests only.
"""

from __future__ import annotations

import re

from tether.domain.errors import ConfigurationError, DependencyUnavailable

LOCAL_PREFIX = "local:"
SECRETS_MANAGER_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:")
CACHE_SECONDS = 300


def resolve_secret(ref: str) -> str:
    """The value `ref` points at. Raises ConfigurationError for a reference of no known
    kind, DependencyUnavailable when Secrets Manager cannot be read."""
    if ref.startswith(LOCAL_PREFIX):
        return ref.removeprefix(LOCAL_PREFIX)
    if SECRETS_MANAGER_ARN.match(ref):
        from aws_lambda_powertools.utilities import parameters

        try:
            value = parameters.get_secret(ref, max_age=CACHE_SECONDS)
        except parameters.GetParameterError as error:
            raise DependencyUnavailable("Secrets Manager", str(error)) from error
        return value if isinstance(value, str) else value.decode()
    raise ConfigurationError(
        f"secret reference {ref[:12]!r}... is neither {LOCAL_PREFIX!r} nor a Secrets Manager ARN"
    )
