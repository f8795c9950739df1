"""The HTTP handler every dev server shares (the local gateway, Lambda's Invoke API, the
WebSocket @connections API, the sandbox): a response leaves in one write, on a socket
with Nagle's algorithm off.

http.server writes the headers (``end_headers``) and then the body in two sends. With
Nagle on, the body's small segment waits for the ACK of the headers, and the client's
TCP delays that ACK (about 40 ms on Linux), so every response stalled ~40 ms. One
write removes the second segment; TCP_NODELAY covers what still goes out in pieces
(http.server's own error pages, a body larger than one segment)."""

from __future__ import annotations

from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler

# answered by the framing itself; a handler's own values are dropped
_FRAMING = frozenset({"content-length", "transfer-encoding"})


class WholeResponseHandler(BaseHTTPRequestHandler):
    # StreamRequestHandler sets TCP_NODELAY on each accepted connection
    disable_nagle_algorithm = True

    def respond(
        self,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        send_body: bool = True,
    ) -> None:
        """Status line, headers (with Server, Date and Content-Length) and body in one
        write. ``send_body=False`` for HEAD: the length is announced, the body not sent.
        A ``Connection: close`` header closes the connection after it."""
        self.log_request(status)
        reason = self.responses.get(status, ("",))[0]
        lines = [
            f"{self.protocol_version} {status} {reason}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        for name, value in headers:
            if name.lower() in _FRAMING:
                continue
            if name.lower() == "connection" and value.lower() == "close":
                self.close_connection = True
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        self.wfile.write(head + body if send_body else head)
