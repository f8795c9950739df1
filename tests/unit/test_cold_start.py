"""Importing a handler loads no AWS SDK and no X-Ray SDK: the tracer is made on the
first invocation and boto3 clients on first use, so a cold start pays for neither
before it needs them. Each import in a fresh interpreter, as a Lambda container is."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from tether.config import PROJECT_ROOT

HANDLERS = [
    "api",
    "webhook",
    "inbound",
    "media",
    "outbound",
    "timers",
    "sweeper",
    "pool_release",
    "websocket",
    "websocket_authorizer",
]
# (the botocore package itself is imported by Powertools for its user agent: 0.4 ms)
HEAVY = ["aws_xray_sdk", "wrapt", "boto3", "botocore.session", "botocore.client"]


def _in_a_fresh_process(script: str) -> subprocess.CompletedProcess[str]:
    """`script` run by a new interpreter in the project, as a cold start imports."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.parametrize("function", HANDLERS)
def test_importing_a_handler_loads_no_sdk(function: str) -> None:
    script = (
        f"import json, sys; import functions.{function}.app;"
        f" print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    ran = _in_a_fresh_process(script)
    assert json.loads(ran.stdout) == []


# repositories the webhook function never uses: the unit of work imports each on its
# first use, so the handler's import loads none of them
UNUSED_BY_WEBHOOK = [
    "tether.db.stats",
    "tether.db.inbox",
    "tether.db.launches",
    "tether.db.retention",
]


def test_importing_the_webhook_handler_loads_no_unused_repository() -> None:
    script = (
        "import json, sys; import functions.webhook.app;"
        f" print(json.dumps(sorted(m for m in {UNUSED_BY_WEBHOOK!r} if m in sys.modules)))"
    )
    ran = _in_a_fresh_process(script)
    assert json.loads(ran.stdout) == []


def test_every_repository_of_the_unit_of_work_is_the_class_it_is_typed_as() -> None:
    from tether.db.unit_of_work import REPOSITORIES, UnitOfWork

    typed = {
        name: kind for name, kind in UnitOfWork.__annotations__.items() if not name.startswith("_")
    }
    assert typed == {name: cls for name, (_module, cls) in REPOSITORIES.items()}
    for module, cls in REPOSITORIES.values():
        assert isinstance(getattr(importlib.import_module(module), cls), type)


class _Connections:
    """A connection source handing out one object: the unit of work only keeps it."""

    def __init__(self) -> None:
        self.conn = SimpleNamespace(closed=True)

    def acquire(self) -> Any:
        return self.conn

    def release(self, conn: Any) -> None:
        assert conn is self.conn


def test_a_repository_is_made_on_first_use_for_each_opening_only() -> None:
    from tether.db.unit_of_work import UnitOfWork

    uow = UnitOfWork(_Connections())
    with pytest.raises(AttributeError):
        _ = uow.leads  # not open: no session to bind to
    with uow:
        first = uow.leads
        assert uow.leads is first  # the same one for the whole opening
        assert first._conn is uow._session
        with pytest.raises(AttributeError):
            _ = uow.no_such_repository
    with uow:
        assert uow.leads is not first  # bound to the new opening's session
        assert uow.leads._conn is uow._session


@pytest.mark.parametrize("function", ["webhook", "inbound", "outbound", "timers", "launch"])
def test_importing_a_handler_loads_no_provider_adapter(function: str) -> None:
    """The adapters (and urllib3) load on a function's first send or first failed
    status, not at import: inbound, timers and launch only store sends."""
    adapters = ["tether.providers.factory", "tether.providers.transport", "urllib3"]
    script = (
        f"import json, sys; import functions.{function}.app;"
        f" print(json.dumps(sorted(m for m in {adapters!r} if m in sys.modules)))"
    )
    ran = _in_a_fresh_process(script)
    assert json.loads(ran.stdout) == []


def test_the_webhook_ports_load_no_idempotency_utility_until_the_guard_runs() -> None:
    """The idempotency store loads Powertools idempotency, boto3 and its DynamoDB client
    on its first use: a webhook refused before the guard (bad signature, unknown
    account, database down) loads none of them."""
    heavy = ["aws_lambda_powertools.utilities.idempotency", "boto3", "botocore.session"]
    script = (
        "import json, os, sys;"
        " os.environ.update(INBOUND_QUEUE_URL='https://sqs.example/q',"
        " IDEMPOTENCY_TABLE_NAME='idempotency');"
        " import functions.webhook.app as app; app.webhook_ports();"
        f" print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    ran = _in_a_fresh_process(script)
    assert json.loads(ran.stdout) == []


def test_the_queue_functions_load_no_powertools_batch_or_parser() -> None:
    """tether.sqs_batch reads Lambda's SQS records: Powertools' batch utility would
    bring every event source's parser models and data classes."""
    heavy = ["aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.parser"]
    script = (
        "import json, sys; import functions.inbound.app, functions.outbound.app,"
        " functions.launch.app, functions.deliver_events.app, functions.media.app;"
        f" print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    ran = _in_a_fresh_process(script)
    assert json.loads(ran.stdout) == []


# what a function's import (and, for deliver_events, its sinks) leaves for the branch
# that needs it: the reply path and the send path behind it, media, phonenumbers
LATER = {
    "inbound": [
        "tether.services.replies",
        "tether.services.outbound",
        "tether.services.media",
        "phonenumbers",
    ],
    "webhook": ["tether.services.outbound", "phonenumbers"],
    # a send parses the recipient's number only for quiet hours; composing and checking
    # a send's text and media is the storing side's (the API, launches, replies, timers)
    "outbound": [
        "tether.services.replies",
        "tether.domain.classification",
        "phonenumbers",
        "tether.domain.campaigns",
        "tether.domain.templates",
        "tether.domain.media",
    ],
    "api": ["tether.services.replies", "tether.services.outbound", "phonenumbers"],
}


@pytest.mark.parametrize("function", sorted(LATER))
def test_importing_a_handler_leaves_the_reply_and_send_paths_for_later(function: str) -> None:
    """A delivery status (most of inbound's receipts) needs neither the reply path nor
    the send path; a webhook parses no phone number. Each loads on its branch."""
    script = (
        f"import json, sys; import functions.{function}.app;"
        f" print(json.dumps(sorted(m for m in {LATER[function]!r} if m in sys.modules)))"
    )
    ran = _in_a_fresh_process(script)
    assert json.loads(ran.stdout) == []


def test_the_event_sinks_load_neither_the_reply_path_nor_the_send_path() -> None:
    """deliver_events makes its sinks on its first record: the bell's sink reads unread
    counts (tether.services.inbox), which once loaded the reply path and the send path
    behind it for the one use that assigns an unmatched reply."""
    heavy = ["tether.services.replies", "tether.services.outbound", "phonenumbers"]
    script = (
        "import json, os, sys;"
        " os.environ.update(EVENT_BUS_NAME='bus', CONNECTIONS_TABLE_NAME='connections',"
        " WEBSOCKET_MANAGEMENT_URL='https://ws.example/prod');"
        " import functions.deliver_events.app as app; sinks = app.sinks();"
        " assert [type(s).__name__ for s in sinks] =="
        " ['EventBridgeSink', 'WebSocketSink', 'WebhookSink'], sinks;"
        f" print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    ran = _in_a_fresh_process(script)
    assert json.loads(ran.stdout) == []


def test_importing_the_outbound_handler_builds_no_provider_event_model() -> None:
    """The provider events' validators (tether.domain.events) are built on their first
    use, by a webhook's parse or inbound's receipt; outbound never validates one."""
    script = (
        "import json, sys; import functions.outbound.app; import tether.domain.events as e;"
        " print(json.dumps(sorted(n for n in ('InboundMessage', 'StatusUpdate',"
        " 'CallOutcomeReport', 'EmailDetails') if getattr(e, n).__pydantic_complete__)))"
    )
    ran = _in_a_fresh_process(script)
    assert json.loads(ran.stdout) == []
