"""The web console's static files (console/ at the top of the repository), served by
the api function under /console on the API's own origin, so the console calls the API
with no CORS and one deploy ships both (README, "The console"). `config.json` is made
per request: the API's base URL as the caller reached it, and the WebSocket API's URL
(null: the console polls the bell)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "/console"
CONFIG_FILE = "config.json"
# (method, path) as API Gateway routes them to the api function (template.yaml)
ROUTES = (("GET", PREFIX), ("GET", f"{PREFIX}/{{proxy+}}"))
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def answer(event: dict[str, Any], files: Path, websocket_url: str | None) -> dict[str, Any]:
    """The proxy response for a GET under /console: index.html for the folder, the file
    asked for (never one outside `files`), config.json made for this caller, else 404."""
    if (event.get("httpMethod") or "GET").upper() not in ("GET", "HEAD"):
        return _response(405, "text/plain; charset=utf-8", "only GET", websocket_url)
    path = str(event.get("path") or "")
    base = _api_base(event)
    if path == PREFIX:  # relative URLs in index.html need the trailing slash
        redirect = _response(301, "text/plain; charset=utf-8", "", websocket_url)
        redirect["headers"]["Location"] = f"{urlsplit(base).path}{PREFIX}/"
        return redirect
    name = path.removeprefix(f"{PREFIX}/") or "index.html"
    if name == CONFIG_FILE:
        config = {"api_base": base, "websocket_url": websocket_url}
        return _response(200, MEDIA_TYPES[".json"], json.dumps(config), websocket_url)
    root = files.resolve()
    target = (root / name).resolve()
    media_type = MEDIA_TYPES.get(target.suffix)
    if media_type is None or not target.is_relative_to(root) or not target.is_file():
        return _response(404, "text/plain; charset=utf-8", "no such file", websocket_url)
    return _response(200, media_type, target.read_text(encoding="utf-8"), websocket_url)


def content_security_policy(websocket_url: str | None) -> str:
    """Scripts and styles from this origin only (the console has no inline script);
    connections to the API (same origin) and the WebSocket API."""
    connect = "'self'"
    if websocket_url:
        parts = urlsplit(websocket_url)
        connect += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        f" connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _api_base(event: dict[str, Any]) -> str:
    """The URL the caller reached the API at: scheme and host as forwarded, and the
    stage's path (API Gateway's requestContext.path is the event's path after it)."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    host = headers.get("host", "localhost")
    path = str(event.get("path") or "")
    full = str((event.get("requestContext") or {}).get("path") or path)
    stage_path = full[: -len(path)] if path and full.endswith(path) else ""
    return f"{scheme}://{host}{stage_path}"


def _response(status: int, media_type: str, body: str, websocket_url: str | None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": media_type,
            "Content-Security-Policy": content_security_policy(websocket_url),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            # small files, and a deploy must show at once: revalidate every time
            "Cache-Control": "no-cache",
        },
        "body": body,
    }
