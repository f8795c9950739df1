"""events/ has a sample event for every function of template.yaml, shaped like what
the function's trigger sends (`python -m tether_dev invoke FUNCTION events/...`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tether.config import PROJECT_ROOT
from tether_dev.local.events import match_route
from tether_dev.local.template import Function, load_template, read_stack

STACK = read_stack(load_template(PROJECT_ROOT / "template.yaml"), lambda name: name)
EVENTS = PROJECT_ROOT / "events"


def samples(function: Function) -> list[Path]:
    """events/<name>.json and events/<name>/*.json."""
    single = EVENTS / f"{function.name}.json"
    return ([single] if single.is_file() else []) + sorted((EVENTS / function.name).glob("*.json"))


def websocket_routes() -> dict[str, str | None]:
    return {k: r.function for k, r in (STACK.websocket.routes if STACK.websocket else {}).items()}


def websocket_route_of(function: Function, event: dict[str, object]) -> bool:
    return function.logical_id in websocket_routes().values() and "requestContext" in event


def websocket_authorizer_of(function: Function) -> bool:
    routes = STACK.websocket.routes.values() if STACK.websocket else []
    return any(r.authorizer == function.logical_id for r in routes)


@pytest.mark.parametrize("function", STACK.functions, ids=lambda f: f.name)
def test_every_function_has_a_sample_event_of_its_trigger(function: Function) -> None:
    found = samples(function)
    assert found, f"add events/{function.name}.json (or events/{function.name}/*.json)"
    routes = [r for r in STACK.routes if r.function == function.logical_id]
    for path in found:
        event = json.loads(path.read_text())
        if function.queue_sources:
            assert event["Records"][0]["eventSource"] == "aws:sqs", path
        elif function.schedules:
            assert event["detail-type"] == "Scheduled Event", path
        elif websocket_route_of(function, event):
            context = event["requestContext"]
            assert context["routeKey"] in websocket_routes(), path
            assert context["eventType"] in ("CONNECT", "MESSAGE", "DISCONNECT"), path
        elif websocket_authorizer_of(function):
            assert event["type"] == "REQUEST", path
            assert event["methodArn"].endswith("/$connect"), path
        elif routes:
            match = match_route(routes, event["httpMethod"], event["path"])
            assert match is not None, f"{path}: no route of {function.name} serves it"
            assert event["resource"] == match.route.path, path
        else:
            assert isinstance(event, dict), path
