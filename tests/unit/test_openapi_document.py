"""The committed openapi.json is the document the routes make: change a route, run
`make openapi`, commit both."""

from __future__ import annotations

import json

from tether.api.resolver import openapi_json
from tether.config import PROJECT_ROOT


def test_committed_openapi_json_matches_the_routes() -> None:
    committed = json.loads((PROJECT_ROOT / "openapi.json").read_text())
    generated = json.loads(openapi_json())
    assert committed == generated, "openapi.json is stale: run `make openapi` and commit it"


def test_every_operation_documents_its_errors_and_security() -> None:
    document = json.loads(openapi_json())
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    for path, operations in document["paths"].items():
        assert path.startswith("/v1/"), path
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "422"} <= codes, f"{method} {path}"
            assert any(code.startswith("2") for code in codes), f"{method} {path}"
