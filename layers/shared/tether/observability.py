"""One logger and one metrics object for the whole package (Powertools)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="tether")
metrics = Metrics(namespace="Tether", service="tether")
