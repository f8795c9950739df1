"""The door webhook deliveries go out through: one signed POST, short timeouts, no
redirects followed, no retries (the delivery's schedule retries), and never an
exception for whatever the receiver does.

Outside the local stage a receiver must be on the public internet: the host is resolved
here, every address it resolves to must be public (no loopback, private networks,
link-local such as the metadata service at 169.254.169.254, carrier-grade NAT,
multicast, reserved), and the connection goes to the address that was checked, with TLS
verified against the host's name, so a DNS answer cannot change in between. On the
local stage (the local stack and the tests) receivers on this machine are allowed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

from tether.domain.subscriptions import check_subscription_url, public_address, sign

CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
TOTAL_TIMEOUT_SECONDS = 8.0
MAX_ANSWER_BYTES = 64 * 1024  # what is read of an answer: its status is what counts

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one POST went: a 2xx status, or what went wrong (Tether's words)."""

    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class WebhookSender:
    """POSTs signed deliveries. `local_stage` allows receivers on this machine (and http
    to localhost). The resolver, the clock, the rule for addresses and the CA bundle are
    the machine's and the public internet's unless given (tests)."""

    def __init__(
        self,
        *,
        local_stage: bool,
        resolver: Resolver = resolve,
        wall_clock: Callable[[], float] = time.time,
        timeout: urllib3.Timeout | None = None,
        address_allowed: Callable[[IPAddress], bool] = public_address,
        ca_certs: str | None = None,
    ) -> None:
        self.local_stage = local_stage
        self._resolve = resolver
        self._address_allowed = address_allowed
        self._ca_certs = ca_certs
        self._wall_clock = wall_clock
        self._timeout = timeout or urllib3.Timeout(
            connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS, total=TOTAL_TIMEOUT_SECONDS
        )
        self._pools = urllib3.PoolManager(retries=False, maxsize=4, block=False)

    def post(self, url: str, secret: str, webhook_id: str, body: bytes) -> Attempt:
        """One signed POST of `body` to `url`; never raises for the receiver's doing."""
        timestamp = int(self._wall_clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tether-webhooks",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, webhook_id, timestamp, body),
        }
        try:
            check_subscription_url(url, local_stage=self.local_stage)
            parts = urlsplit(url)
            if self.local_stage:
                response = self._pools.request(
                    "POST",
                    url,
                    body=body,
                    headers=headers,
                    redirect=False,
                    retries=False,
                    timeout=self._timeout,
                    preload_content=False,
                )
                status = _status_of(response)
            else:
                status = self._pinned(parts, headers, body)
        except Refused as refused:
            return Attempt(None, f"refused: {refused}")
        except ValueError as error:  # the URL is no longer one Tether delivers to
            return Attempt(None, f"refused: {error}")
        # NewConnectionError is a ConnectTimeoutError to urllib3: caught first
        except NewConnectionError:
            return Attempt(None, "connection refused or unreachable")
        except SSLError:
            return Attempt(None, "TLS handshake or certificate failed")
        except (ConnectTimeoutError, ReadTimeoutError, TimeoutError):
            return Attempt(None, "timed out")
        except (HTTPError, OSError) as error:
            return Attempt(None, f"connection failed: {type(error).__name__}")
        if 200 <= status < 300:
            return Attempt(status, None)
        if 300 <= status < 400:
            return Attempt(status, f"HTTP {status}: redirects are not followed")
        return Attempt(status, f"HTTP {status}")

    def _pinned(self, parts: SplitResult, headers: Mapping[str, str], body: bytes) -> int:
        """The request sent to the address that was checked (deployed stages)."""
        host = str(parts.hostname)
        port = parts.port or 443
        try:
            addresses = self._resolve(host, port)
        except OSError as error:
            raise Refused(f"{host} does not resolve") from error
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for address in addresses:
            if not self._address_allowed(ipaddress.ip_address(address.split("%", 1)[0])):
                raise Refused(f"{host} resolves to a private or reserved address")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pool = urllib3.HTTPSConnectionPool(
            addresses[0],
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=self._ca_certs,
            retries=False,
            maxsize=1,
        )
        try:
            response = pool.urlopen(
                "POST",
                target,
                body=body,
                headers={**headers, "Host": host if port == 443 else f"{host}:{port}"},
                redirect=False,
                retries=False,
                timeout=self._timeout,
                preload_content=False,
            )
            return _status_of(response)
        finally:
            pool.close()


def _status_of(response: urllib3.BaseHTTPResponse) -> int:
    """The answer's status, after reading a bounded part of its body."""
    try:
        response.read(MAX_ANSWER_BYTES)
    except (HTTPError, OSError):
        pass  # the status is in; an answer cut short changes nothing
    finally:
        response.close()
    return response.status


class Refused(Exception):
    """A receiver this stage does not deliver to."""
