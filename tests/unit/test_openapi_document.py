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


def test_every_operation_declares_the_key_scope_it_needs() -> None:
    """One declaration per route (x-tether-scope), read by the scope middleware: GETs
    need read unless they show keys or the audit log; no write route is open to read."""
    document = json.loads(openapi_json())
    admin_only = {"/v1/api-keys", "/v1/api-keys/{key_id}/revoke", "/v1/provider-accounts"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            scope = operation.get("x-tether-scope")
            assert scope in {"read", "write", "admin"}, f"{method} {path}"
            if method != "get":
                assert scope != "read", f"{method} {path}"
            if path in admin_only and (method != "get" or path == "/v1/api-keys"):
                assert scope == "admin", f"{method} {path}"
    assert document["paths"]["/v1/settings"]["patch"]["x-tether-scope"] == "admin"
    assert document["paths"]["/v1/campaigns"]["get"]["x-tether-scope"] == "read"
    assert document["paths"]["/v1/campaigns"]["post"]["x-tether-scope"] == "write"
