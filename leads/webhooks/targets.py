"""Where a webhook may post (G1): public addresses only, checked when a webhook
is saved and again at every send, on the address actually connected to.

A marketer types a URL; the worker posts to it from inside the install's
network. Without this check the worker is a proxy into that network (the
metadata service at 169.254.169.254, Redis on :6379, the admin pages of
anything on 10.x), and the delivery page's error messages a port scanner.

So the host name is resolved once, every address it resolves to must be public
(no loopback, private, link-local, multicast, reserved or unspecified address,
IPv4-mapped IPv6 forms included), and the connection goes to that checked
address (TLS still verifies the original name), never to a second lookup that
a short-lived DNS answer could point elsewhere. Redirects are not followed.

``allow_private`` (the ``WEBHOOK_ALLOW_PRIVATE_TARGETS`` setting) lifts the
address check for installs whose receivers live on their own network.

The standard library has what this needs (``ipaddress``, ``http.client``); the
libraries made for it (advocate) are unmaintained and pin old ``requests``.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit


class TargetRefused(ValueError):
    """The URL may not be posted to; ``reason`` says why in the user's words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


PRIVATE = "This address is inside a private network; webhooks go only to public addresses."
UNRESOLVED = "This host name could not be found."
INVALID = "Enter a valid http:// or https:// URL."


@dataclass(frozen=True)
class Target:
    """A URL split into what a pinned connection needs."""

    scheme: str
    host: str
    port: int
    path: str


def parse(url: str) -> Target:
    """The URL's parts, or ``TargetRefused`` when it is not an http(s) URL."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(INVALID) from error
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise TargetRefused(INVALID)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def is_public(address: str) -> bool:
    """Whether an IP address is a public, unicast one (IPv4-mapped forms unwrapped)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve(target: Target, *, allow_private: bool = False) -> str:
    """The address to connect to: every address the host resolves to must be
    public (unless ``allow_private``); ``TargetRefused`` otherwise."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(UNRESOLVED) from error
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise TargetRefused(UNRESOLVED)
    if not allow_private and not all(is_public(address) for address in addresses):
        raise TargetRefused(PRIVATE)
    return addresses[0]


def check_when_saving(url: str, *, allow_private: bool = False) -> None:
    """The check a webhook form runs: a valid URL, and not a private address.
    A name that does not resolve from here yet is accepted (its DNS may come
    later); the send checks again."""
    target = parse(url)
    try:
        resolve(target, allow_private=allow_private)
    except TargetRefused as refused:
        if refused.reason != UNRESOLVED:
            raise


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to a checked address; the Host header and the TLS
    certificate check use the URL's name."""

    def __init__(self, target: Target, address: str, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address
        self._tls = target.scheme == "https"

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        if self._tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def post(url: str, body: bytes, headers: dict, *, timeout: float = 10, allow_private: bool = False) -> int:
    """POST ``body`` to ``url`` on its checked address and answer the HTTP
    status (a redirect is an answer like any other, not followed). Raises
    ``TargetRefused`` for a refused URL, ``OSError`` when it cannot connect."""
    target = parse(url)
    address = resolve(target, allow_private=allow_private)
    connection = _PinnedConnection(target, address, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    except http.client.HTTPException as error:
        raise OSError(f"bad HTTP answer: {error}") from error
    finally:
        connection.close()
