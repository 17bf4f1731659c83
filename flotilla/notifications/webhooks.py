"""Sending one webhook request: where it may go, how it is signed, what counts as delivered.

A webhook URL is typed by an organisation admin and fetched by our server, so it must not be
a way into our own network: only http(s), and only to public addresses unless the network is
listed in FLOTILLA_WEBHOOK_ALLOWED_NETWORKS. The host is resolved when the webhook is added
and again at every attempt, and the connection goes to the address that was checked (not to a
second lookup, which a hostile DNS server could answer differently). Redirects are not
followed: a 3xx is a failure like any other answer that is not 2xx.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Headers every request carries (documented in docs/api.md, "Webhooks").
EVENT_HEADER = "Flotilla-Event"
DELIVERY_HEADER = "Flotilla-Delivery"
TIMESTAMP_HEADER = "Flotilla-Timestamp"
SIGNATURE_HEADER = "Flotilla-Signature"
USER_AGENT = "Flotilla-Webhooks/1"


class RefusedAddress(ValueError):
    """A webhook URL Flotilla will not send to, with the reason in words."""


@dataclass(frozen=True)
class Answer:
    """The outcome of one request: delivered (a 2xx) or not, and why not."""

    ok: bool
    error: str = ""


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "{timestamp}.{body}" with the webhook's secret, as hex."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS]


def address_allowed(address: Address) -> bool:
    if any(address in network for network in _allowed_networks()):
        return True
    return address.is_global and not address.is_multicast


def _split(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedAddress("A webhook address must start with https:// or http://")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise RefusedAddress("The webhook address has a port that is not a number") from exc
    if not host:
        raise RefusedAddress("The webhook address needs a host name")
    if parts.username or parts.password:
        raise RefusedAddress(
            "Leave the user name and password out of the webhook address: requests are signed"
        )
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` stands for, each of which must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedAddress(f"Flotilla could not find the host {host}") from exc
    addresses: list[Address] = []
    for info in infos:
        # An IPv6 address may carry a zone ("fe80::1%eth0"); the zone is not part of it.
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    refused = [a for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        raise RefusedAddress(
            f"{host} is a private or local address ({', '.join(map(str, refused))}); "
            "webhooks can only go to public addresses"
        )
    return addresses


def check_url(url: str) -> str:
    """The URL, stripped, if Flotilla may send to it; otherwise RefusedAddress says why."""
    url = url.strip()
    if not url:
        raise RefusedAddress("Enter the address Flotilla should send events to")
    if len(url) > 500:
        raise RefusedAddress("The webhook address must be 500 characters or fewer")
    _scheme, host, port = _split(url)
    resolve(host, port)
    return url


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url` once; never raises for a failure of the receiver or the network."""
    try:
        scheme, host, port = _split(url)
        address = resolve(host, port)[0]
    except RefusedAddress as exc:
        return Answer(False, str(exc))
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if scheme == "https":
        connection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)

    def connect_to_checked_address(
        where: tuple[str, int], timeout: float | None = None, source: Any = None
    ) -> socket.socket:
        # The Host header and TLS (name and certificate) still use the host name.
        return socket.create_connection((str(address), where[1]), timeout, source)

    connection._create_connection = connect_to_checked_address  # type: ignore[attr-defined]
    try:
        connection.request(
            "POST",
            target,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        snippet = response.read(300).decode("utf-8", "replace")
        if 200 <= response.status < 300:
            return Answer(True)
        said = " ".join(snippet.split())[:200]
        return Answer(
            False, f"The receiver answered {response.status} {response.reason}: {said}".rstrip(": ")
        )
    except TimeoutError:
        return Answer(False, f"The receiver did not answer within {timeout:g} seconds")
    except ConnectionRefusedError:
        return Answer(False, f"The receiver refused the connection ({host}:{port})")
    except ssl.SSLError as exc:
        return Answer(False, f"A secure connection could not be made: {exc.reason or exc}")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(False, f"The request failed: {exc or type(exc).__name__}")
    finally:
        connection.close()
