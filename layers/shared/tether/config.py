"""Settings, read once from the environment. The only module that looks at os.environ.

One frozen base, `Settings`, and mixins for what functions share (the database, the
stage, the queues, the idempotency store). Each function's model composes the mixins it
needs and adds its own limits; each is read once per container by its cached reader
(`webhook_settings()`, ...: the model's `read` behind functools.cache). The database and
stage slices are read by the adapters that use them (tether.db.connection,
tether.secrets), once per container too.

The base is a plain pydantic model that takes its fields from the environment, not
pydantic-settings: that read environment variables, .env files and secrets directories
through a dozen sources, and its import cost a cold start about 25 ms. Each model's
validators are built when it is first read (`defer_build`), so a function pays only
for the few it uses of the many defined here."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[3]


SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
# the modes under which libpq refuses a connection without TLS
TLS_MODES: frozenset[str] = frozenset({"require", "verify-ca", "verify-full"})


class Settings(BaseModel):
    """The base of every settings model: frozen, read from the environment (a field's
    variable is its name in any case, DB_HOST for db_host; values given as arguments
    win), other variables ignored. Values are validated as pydantic's lax mode reads
    strings: "5432" is an int, "true" a bool."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def read(cls) -> Self:
        """The model as the environment gives it (what the cached readers below keep)."""
        return cls()

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, given: Any) -> Any:
        if not isinstance(given, dict):
            return given
        environment = {name.lower(): value for name, value in os.environ.items()}
        found = {field: environment[field] for field in cls.model_fields if field in environment}
        return {**found, **given}


class DatabaseSettings(Settings):
    """Where the database is, and how to log in to it.

    Locally: ``DATABASE_URL`` (an owner/admin URL; the application and jobs roles are
    derived from it unless ``APP_DATABASE_URL`` / ``JOBS_DATABASE_URL`` say otherwise),
    or nothing at all, and an embedded PostgreSQL is started under ``TETHER_DATA_DIR``.
    In AWS: ``DB_HOST`` (the RDS Proxy endpoint) and either ``DB_SECRET_ARN`` (the
    function's own role credentials in Secrets Manager; ``DB_AUTH=secret``) or IAM
    authentication (``DB_AUTH=iam``: a token for ``DB_USER``, by default the role's own
    name). ``DB_SSLMODE`` is libpq's sslmode: ``require`` unless set in AWS (RDS Proxy
    refuses plain connections when it requires TLS), and when set locally it overrides
    the URL's; ``DB_SSLROOTCERT`` is the CA bundle for ``verify-ca``/``verify-full``.
    """

    database_url: str | None = None
    app_database_url: str | None = None
    jobs_database_url: str | None = None
    db_secret_arn: str | None = None
    db_auth: Literal["secret", "iam"] = "secret"
    db_user: str | None = None
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "tether"
    db_sslmode: SslMode | None = None
    db_sslrootcert: str | None = None
    db_connect_timeout_seconds: int = 5
    tether_data_dir: Path = PROJECT_ROOT / ".tether"

    @model_validator(mode="after")
    def _iam_needs_a_host_and_tls(self) -> DatabaseSettings:
        if self.db_auth != "iam":
            return self
        if not self.db_host:
            raise ValueError("DB_AUTH=iam needs DB_HOST (the RDS Proxy endpoint)")
        if self.db_sslmode is not None and self.db_sslmode not in TLS_MODES:
            raise ValueError(
                f"DB_AUTH=iam sends a token as the password, which RDS accepts only over"
                f" TLS: DB_SSLMODE must be one of {sorted(TLS_MODES)}, not {self.db_sslmode}"
            )
        return self

    @property
    def in_aws(self) -> bool:
        """The AWS way of connecting (a secret or an IAM token), not a URL."""
        return bool(self.db_secret_arn) or self.db_auth == "iam"


# Readers: the model read on first use and kept for the container (cache_clear()
# reads it again, as tests do after changing the environment).
database_settings = cache(DatabaseSettings.read)


LOCAL_STAGE = "local"


class StageSettings(Settings):
    """Which stage this runs in, and how much it may log.

    ``TETHER_STAGE`` is the template's ``Stage`` (dev, prod: ``local`` is not among its
    allowed values, so no deployed stack can claim it). The local stack and the tests
    set it to ``local``: only there are ``local:`` secret references, the sandbox
    provider and custom provider URLs accepted, and phone numbers logged unmasked at
    DEBUG. Unset means "not local": the safe side.
    """

    tether_stage: str = ""

    @property
    def is_local(self) -> bool:
        return self.tether_stage == LOCAL_STAGE


stage_settings = cache(StageSettings.read)


class TracingSettings(Settings):
    """Whether this process sends X-Ray traces, decided as Powertools' Tracer decides it:
    in Lambda (``LAMBDA_TASK_ROOT`` set), not under ``sam local`` (``AWS_SAM_LOCAL``),
    and not turned off by ``POWERTOOLS_TRACE_DISABLED``. Decided here so that a process
    that traces nothing never loads the X-Ray SDK."""

    lambda_task_root: str | None = None
    aws_sam_local: bool = False
    powertools_trace_disabled: bool = False

    @property
    def active(self) -> bool:
        return bool(self.lambda_task_root) and not (
            self.aws_sam_local or self.powertools_trace_disabled
        )


tracing_settings = cache(TracingSettings.read)


class InboundQueueSettings(Settings):
    """InboundQueue: where stored webhook receipts go to be applied."""

    inbound_queue_url: str


class OutboundQueueSettings(Settings):
    """OutboundQueue: where sends go to be sent (at once, or with a delay)."""

    outbound_queue_url: str


class LaunchQueueSettings(Settings):
    """LaunchQueue: where a launch's chunks go to be stored, one after another."""

    launch_queue_url: str


class EventsQueueSettings(Settings):
    """EventsQueue (issue 16): where committed events go to be delivered. Every function
    that records events has it (template.yaml's Globals); unset, events wait for the
    sweeper's re-drive."""

    events_queue_url: str | None = None


class MediaQueueSettings(Settings):
    """MediaQueue (issue 18): where inbound media waiting for its copy goes. Unset, the
    copies wait for the sweeper's re-drive."""

    media_queue_url: str | None = None


class MediaBucketSettings(Settings):
    """The media bucket: Tether's copies of inbound media (template.yaml, MediaBucket)."""

    media_bucket_name: str


class MediaSettings(MediaBucketSettings):
    """The media function's environment (template.yaml, MediaFunction)."""


media_settings = cache(MediaSettings.read)


class DeliverEventsSettings(Settings):
    """The deliver_events function's environment (template.yaml, DeliverEventsFunction)."""

    event_bus_name: str


class IdempotencySettings(Settings):
    """The DynamoDB table of Powertools idempotency."""

    idempotency_table_name: str
    # how long DynamoDB answers a repeated event from memory; Postgres keeps it for good
    idempotency_expires_after_seconds: int = 3600


class WebhookSettings(InboundQueueSettings, IdempotencySettings):
    """The webhook function's environment (template.yaml, WebhookFunction)."""


class SweeperSettings(
    InboundQueueSettings, OutboundQueueSettings, EventsQueueSettings, MediaQueueSettings
):
    """The sweeper's environment (template.yaml, SweeperFunction)."""

    # must exceed the webhook function's timeout, so a sweep never races its own enqueue
    sweep_grace_seconds: int = 30
    # an event's relay runs right after its commit: one older than this was missed
    events_grace_seconds: int = 10
    sweep_batch_size: int = 100
    # retention: rows cleared per batch, batches per kind per run (bounded work a minute)
    retention_batch_size: int = 500
    retention_max_batches: int = 10
    # results' deltas folded per run (a launch of 100,000 leaves about 300,000)
    results_batch_size: int = 500_000


class TimersSettings(OutboundQueueSettings, LaunchQueueSettings):
    """The timers function's environment (template.yaml, TimersFunction): it also
    dispatches scheduled and stalled launches to LaunchQueue."""

    # a batch holds its leads' rows about a quarter of a second; a reply to one waits
    timers_batch_size: int = 500
    # a run takes no new batch with less than this left before the function's timeout
    timers_reserve_seconds: float = 5.0


class WebhookBaseSettings(Settings):
    """Where providers reach this stack: the API's public URL (template.yaml builds it
    from the API's id, region, URL suffix and stage; the local stack sets its gateway's
    URL). Every send names ``{webhook_base_url}/webhooks/{provider}/{account_id}`` as its
    status callback, so statuses arrive without configuring numbers by hand."""

    webhook_base_url: str

    @field_validator("webhook_base_url")
    @classmethod
    def _an_absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("WEBHOOK_BASE_URL must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("WEBHOOK_BASE_URL takes no query or fragment")
        return value.rstrip("/")


class OutboundSettings(OutboundQueueSettings, WebhookBaseSettings):
    """The outbound function's environment (template.yaml, OutboundFunction): a send
    that must wait goes back to its queue with a delay, and every send asks for its
    status callbacks at the stack's webhook URL."""


class InboundEmailSettings(InboundQueueSettings):
    """The inbound_email function's environment (template.yaml, InboundEmailFunction):
    a mail SES stored in S3 is read, stored as a receipt and put on InboundQueue."""

    # SES's S3 action bounces mail over 40 MB itself; a larger object is no SES mail
    max_mail_bytes: int = 41 * 1024 * 1024


class InboundSettings(OutboundQueueSettings, MediaQueueSettings):
    """The inbound function's environment (template.yaml, InboundFunction): an answer to
    a reply (opt-out confirmation, auto reply) goes to the outbound queue at once."""


class ApiSettings(OutboundQueueSettings, LaunchQueueSettings):
    """The api function's environment (template.yaml, ApiFunction): a requested send
    goes to the outbound queue at once (the sweeper re-drives it if that fails), and a
    launch to the launch queue."""

    max_body_bytes: int = 1024 * 1024
    # the WebSocket API the console connects to (wss://...; unset: the console polls)
    websocket_url: str | None = None
    # the media bucket its presigned attachment URLs read (unset: attachments have none)
    media_bucket_name: str | None = None
    media_url_expires_seconds: int = Field(default=300, ge=1, le=3600)


class LaunchSettings(OutboundQueueSettings, LaunchQueueSettings):
    """The launch function's environment (template.yaml, LaunchFunction): each chunk's
    sends go to the outbound queue, and its next chunk to the launch queue."""

    # leads a chunk stores in one transaction (about a second for 1,000)
    launch_chunk_size: int = Field(default=1000, ge=1, le=5000)


webhook_settings = cache(WebhookSettings.read)
sweeper_settings = cache(SweeperSettings.read)
timers_settings = cache(TimersSettings.read)
outbound_settings = cache(OutboundSettings.read)
inbound_settings = cache(InboundSettings.read)
inbound_email_settings = cache(InboundEmailSettings.read)
api_settings = cache(ApiSettings.read)
launch_settings = cache(LaunchSettings.read)
events_queue_settings = cache(EventsQueueSettings.read)
deliver_events_settings = cache(DeliverEventsSettings.read)


class ConnectionsSettings(Settings):
    """The WebSocket API's connections table (template.yaml, ConnectionsTable)."""

    connections_table_name: str


class WebSocketSettings(ConnectionsSettings):
    """The websocket function's environment (template.yaml, WebSocketFunction): it
    stores connections and their stages; its answers go back as route responses."""


class PushSettings(ConnectionsSettings):
    """What a function that pushes to WebSocket connections needs (deliver_events'
    WebSocketSink): the connections table, and the stage's @connections endpoint
    (https://{api}.execute-api.{region}.amazonaws.com/{stage}; the local stack sets its
    own server's URL)."""

    websocket_management_url: str

    @field_validator("websocket_management_url")
    @classmethod
    def _an_absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("WEBSOCKET_MANAGEMENT_URL must be an absolute http(s) URL")
        return value.rstrip("/")


websocket_settings = cache(WebSocketSettings.read)
push_settings = cache(PushSettings.read)
