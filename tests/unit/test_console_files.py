"""The console's files as the api function serves them under /console: every file the
page loads is there with its media type and the content security policy, config.json
names the API as the caller reached it, and nothing outside console/ is ever served."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tether.api.console import answer, content_security_policy
from tether.config import PROJECT_ROOT

FILES = PROJECT_ROOT / "functions" / "api" / "console"
WSS = "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"


def _get(path: str, *, stage: str = "/prod", method: str = "GET") -> dict[str, Any]:
    event = {
        "httpMethod": method,
        "path": path,
        "headers": {
            "Host": "abc.execute-api.eu-west-1.amazonaws.com",
            "X-Forwarded-Proto": "https",
        },
        "requestContext": {"path": f"{stage}{path}"},
    }
    return answer(event, FILES, None)


def test_the_function_packages_the_console_folder() -> None:
    assert FILES.is_symlink()
    assert FILES.resolve() == (PROJECT_ROOT / "console").resolve()


def _loaded_by_the_page() -> set[str]:
    """index.html's script and stylesheet, and every module those import."""
    index = (PROJECT_ROOT / "console" / "index.html").read_text()
    found = set(re.findall(r'(?:src|href)="([^"#:]+\.(?:js|css))"', index))
    pending = [f for f in found if f.endswith(".js")]
    while pending:
        module = pending.pop()
        text = (PROJECT_ROOT / "console" / module).read_text()
        for imported in re.findall(r'from "\./([^"]+)"', text):
            name = str(Path(module).parent / imported)
            if name not in found:
                found.add(name)
                pending.append(name)
    return found


def test_every_file_the_page_loads_is_served_with_its_type_and_the_policy() -> None:
    loaded = _loaded_by_the_page()
    assert {"console.css", "js/app.js", "js/segments.js", "js/inbox.js"} <= loaded
    for name in loaded:
        response = _get(f"/console/{name}")
        assert response["statusCode"] == 200, name
        expected = "text/css" if name.endswith(".css") else "text/javascript"
        assert response["headers"]["Content-Type"].startswith(expected)
    index = _get("/console/")
    assert index["statusCode"] == 200
    assert index["headers"]["Content-Type"].startswith("text/html")
    assert index["headers"]["X-Content-Type-Options"] == "nosniff"
    policy = index["headers"]["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "unsafe" not in policy


def test_the_page_has_no_inline_script_or_handler() -> None:
    """What lets the policy forbid inline scripts."""
    index = (PROJECT_ROOT / "console" / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", index) == []
    assert re.findall(r"\son[a-z]+=", index) == []
    assert "<style" not in index


def test_config_names_the_api_as_the_caller_reached_it() -> None:
    config = _get("/console/config.json")
    assert config["headers"]["Content-Type"] == "application/json"
    assert json.loads(config["body"]) == {
        "api_base": "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        "websocket_url": None,
    }
    local = _get("/console/config.json", stage="")
    assert (
        json.loads(local["body"])["api_base"] == "https://abc.execute-api.eu-west-1.amazonaws.com"
    )


def test_config_and_policy_carry_the_websocket_api() -> None:
    event = {"httpMethod": "GET", "path": "/console/config.json", "headers": {"Host": "h"}}
    response = answer(event, FILES, WSS)
    assert json.loads(response["body"])["websocket_url"] == WSS
    policy = response["headers"]["Content-Security-Policy"]
    assert "connect-src 'self' wss://abc123.execute-api.eu-west-1.amazonaws.com;" in policy
    assert "wss:" not in content_security_policy(None)


def test_the_bare_path_redirects_into_the_folder_under_the_stage() -> None:
    response = _get("/console")
    assert response["statusCode"] == 301
    assert response["headers"]["Location"] == "/prod/console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/../template.yaml",
        "/console/js/../../layers/shared/tether/config.py",
        "/console/../../../../etc/passwd",
        "/console/%2e%2e/template.yaml",
        "/console/js/app.py",
        "/console/missing.js",
        "/console/js",
    ],
)
def test_nothing_outside_the_console_or_of_another_kind_is_served(path: str) -> None:
    assert _get(path)["statusCode"] == 404


def test_only_get_is_answered() -> None:
    assert _get("/console/", method="POST")["statusCode"] == 405
