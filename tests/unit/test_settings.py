"""Each function's settings: one frozen model composed from shared mixins, read once
per container, and given every variable it needs by template.yaml. One queue getter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tether import config
from tether.config import (
    ApiSettings,
    DatabaseSettings,
    InboundQueueSettings,
    InboundSettings,
    LaunchSettings,
    OutboundQueueSettings,
    OutboundSettings,
    Settings,
    StageSettings,
    SweeperSettings,
    TimersSettings,
    WebhookSettings,
)
from tether.queues import queue_at
from tether_dev.local.template import load_template

FUNCTIONS: dict[str, type[Settings]] = {
    "WebhookFunction": WebhookSettings,
    "InboundFunction": InboundSettings,
    "OutboundFunction": OutboundSettings,
    "LaunchFunction": LaunchSettings,
    "TimersFunction": TimersSettings,
    "SweeperFunction": SweeperSettings,
    "ApiFunction": ApiSettings,
}
READERS = {
    WebhookSettings: config.webhook_settings,
    InboundSettings: config.inbound_settings,
    OutboundSettings: config.outbound_settings,
    LaunchSettings: config.launch_settings,
    TimersSettings: config.timers_settings,
    SweeperSettings: config.sweeper_settings,
    ApiSettings: config.api_settings,
    DatabaseSettings: config.database_settings,
    StageSettings: config.stage_settings,
}
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
EVERY_VARIABLE = {
    "OUTBOUND_QUEUE_URL": QUEUE_URL,
    "INBOUND_QUEUE_URL": QUEUE_URL,
    "LAUNCH_QUEUE_URL": QUEUE_URL,
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "WEBHOOK_BASE_URL": "https://abc123.execute-api.us-east-1.amazonaws.com/dev",
}


def test_every_model_is_frozen_and_built_on_the_one_base() -> None:
    for model in READERS:
        assert issubclass(model, Settings), model
        assert model.model_config.get("frozen") is True, model
    assert issubclass(SweeperSettings, InboundQueueSettings)
    assert issubclass(SweeperSettings, OutboundQueueSettings)
    settings = ApiSettings(outbound_queue_url=QUEUE_URL, launch_queue_url=QUEUE_URL)
    with pytest.raises(ValidationError):
        settings.outbound_queue_url = "elsewhere"  # type: ignore[misc]


@pytest.mark.parametrize("model", list(READERS), ids=lambda model: model.__name__)
def test_each_is_read_once_per_container(model: type[Settings], monkeypatch: Any) -> None:
    for name, value in EVERY_VARIABLE.items():
        monkeypatch.setenv(name, value)
    reader = READERS[model]
    reader.cache_clear()
    try:
        first = reader()
        monkeypatch.setenv("OUTBOUND_QUEUE_URL", "https://changed.example/q")
        assert reader() is first  # the environment is read once, not per call
        assert isinstance(first, model)
    finally:
        reader.cache_clear()


def test_a_missing_variable_is_refused_by_name(monkeypatch: Any) -> None:
    monkeypatch.delenv("INBOUND_QUEUE_URL", raising=False)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "idempotency")
    with pytest.raises(ValidationError, match="inbound_queue_url"):
        WebhookSettings.read()


def test_the_environment_is_read_as_pydantic_settings_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plain base keeps what pydantic-settings did: a variable in any case, strings
    read in lax mode, arguments over the environment, errors naming the field."""
    for name in list(os.environ):
        if name.lower().startswith("db_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("db_port", "6543")  # lower case is read too
    monkeypatch.setenv("DB_AUTH", "iam")
    monkeypatch.setenv("DB_HOST", "proxy.example")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "9")
    monkeypatch.setenv("TETHER_DATA_DIR", "/srv/tether-data")
    monkeypatch.setenv("UNRELATED", "ignored")
    settings = DatabaseSettings.read()
    assert (settings.db_port, settings.db_auth, settings.db_host) == (6543, "iam", "proxy.example")
    assert settings.db_connect_timeout_seconds == 9
    assert settings.tether_data_dir == Path("/srv/tether-data")
    assert DatabaseSettings(db_port=1).db_port == 1  # an argument wins
    monkeypatch.setenv("DB_PORT", "not a port")
    with pytest.raises(ValidationError, match="db_port"):
        DatabaseSettings.read()
    monkeypatch.setenv("DB_PORT", "5432")
    monkeypatch.setenv("DB_AUTH", "password")
    with pytest.raises(ValidationError, match="db_auth"):
        DatabaseSettings.read()


def test_reading_settings_loads_no_pydantic_settings() -> None:
    script = (
        "import json, sys; from tether.config import stage_settings; stage_settings();"
        " print(json.dumps('pydantic_settings' in sys.modules))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script],
        cwd=config.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(ran.stdout) is False


@pytest.mark.parametrize(("function", "model"), list(FUNCTIONS.items()))
def test_the_template_gives_each_function_what_its_model_needs(
    function: str, model: type[Settings]
) -> None:
    template = load_template(config.PROJECT_ROOT / "template.yaml")
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    own = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    given = {name.lower() for name in [*shared, *own]}
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert required <= given, sorted(required - given)
    # and every variable of its own that is not the database's is one its model reads
    unread = {
        name
        for name in own
        if not name.startswith("DB_") and name.lower() not in model.model_fields
    }
    assert not unread, sorted(unread)


def test_one_queue_per_url_per_container() -> None:
    queue_at.cache_clear()
    try:
        assert queue_at(QUEUE_URL) is queue_at(QUEUE_URL)
        assert queue_at(QUEUE_URL) is not queue_at(QUEUE_URL + "-other")
    finally:
        queue_at.cache_clear()


def test_the_settings_refuse_a_webhook_base_that_is_not_an_absolute_http_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from tether.config import OutboundSettings

    monkeypatch.setenv("OUTBOUND_QUEUE_URL", "https://sqs.example/q")
    for wrong in ("api.example.com/dev", "ftp://api.example.com", "https://x/dev?a=1", ""):
        monkeypatch.setenv("WEBHOOK_BASE_URL", wrong)
        with pytest.raises(ValidationError, match="WEBHOOK_BASE_URL"):
            OutboundSettings.read()
    monkeypatch.setenv("WEBHOOK_BASE_URL", "https://abc.execute-api.us-east-1.amazonaws.com/dev/")
    assert (
        OutboundSettings.read().webhook_base_url
        == "https://abc.execute-api.us-east-1.amazonaws.com/dev"
    )
