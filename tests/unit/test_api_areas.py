"""The api function imports a route module (an "area") when a request first reaches
its paths, not at import: `SEGMENTS` must name, for each first path segment under /v1,
exactly the areas with routes there, and including areas request by request must leave
the routes that share a segment in the order they have when all are included at once."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections import defaultdict

from tether.api import resolver
from tether.config import PROJECT_ROOT

# Run in a fresh interpreter: what importing the handler loads, then what the first
# request to /v1/api-keys loads, then the registration order after including the areas
# segment by segment (in an order unlike AREAS) against the order of all at once.
SCRIPT = """
import json, sys
import functions.api.app
from tether.api import resolver

def loaded():
    return sorted(m for m in sys.modules if m.startswith("tether.api.routes.")
                  or m == "aws_lambda_powertools.event_handler.openapi.models")

def order():
    return [(str(r.method), r.path) for r in [*resolver.app._static_routes,
                                              *resolver.app._dynamic_routes]]

facts = {"at_import": loaded()}
resolver.include_areas(resolver._areas_for("/v1/api-keys/abc"))
facts["after_api_keys"] = loaded()
for segment in sorted(resolver.SEGMENTS, reverse=True):
    resolver.include_areas(resolver._areas_for(f"/v1/{segment}"))
facts["one_by_one"] = order()
print(json.dumps(facts))
"""


def test_the_segments_table_names_the_areas_serving_each_segment() -> None:
    serving: dict[str, set[str]] = defaultdict(set)
    for area in resolver.AREAS:
        router = importlib.import_module(f"tether.api.routes.{area}").router
        for route in router._routes:
            serving[route[0].split("/")[1]].add(area)
    assert {segment: set(areas) for segment, areas in resolver.SEGMENTS.items()} == serving


def test_areas_are_imported_on_first_use_and_keep_their_routes_order() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    facts = json.loads(ran.stdout.strip().splitlines()[-1])
    assert facts["at_import"] == []
    assert facts["after_api_keys"] == ["tether.api.routes.keys"]
    resolver.include_every_area()
    at_once = [(str(r.method), r.path) for r in resolver.app._dynamic_routes]
    one_by_one = [tuple(route) for route in facts["one_by_one"]]

    def per_segment(routes: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
        grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for method, rule in routes:
            grouped[rule.split("/")[2]].append((method, rule))
        return dict(grouped)

    dynamic_one_by_one = [route for route in one_by_one if route in at_once]
    assert sorted(dynamic_one_by_one) == sorted(at_once)
    assert per_segment(dynamic_one_by_one) == per_segment(at_once)
