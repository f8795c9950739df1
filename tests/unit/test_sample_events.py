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
        elif routes:
            match = match_route(routes, event["httpMethod"], event["path"])
            assert match is not None, f"{path}: no route of {function.name} serves it"
            assert event["resource"] == match.route.path, path
        else:
            assert isinstance(event, dict), path
