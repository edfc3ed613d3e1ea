"""Behind a reverse proxy (``trust_proxy``): the client's address and scheme from the proxy's headers.

Only a request whose direct peer (``REMOTE_ADDR``) is inside one of ``proxy_networks`` is rewritten,
by Werkzeug's ``ProxyFix`` with one proxy hop: the *last* value of ``X-Forwarded-For`` becomes the
client address (audit log, login throttling, sessions) and the last value of
``X-Forwarded-Proto`` the scheme (``https`` makes the session cookie ``Secure`` and adds HSTS).
A request from any other peer is served as it came, its ``X-Forwarded-*`` headers ignored, so a
client that reaches the hub directly cannot choose the address it is throttled and audited under.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from shared.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.1/32,::1/128"


def parse_networks(text: str, source: str = "web.proxy_networks") -> tuple[Network, ...]:
    """``"10.0.0.5, 192.168.1.0/24"`` as networks; a bare address is a network of one."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{source}: {part!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") \
                from None
    if not networks:
        raise ConfigError(f"{source}: name at least one proxy address")
    return tuple(networks)


def peer_in(address: str, networks: Iterable[Network]) -> bool:
    """Whether ``address`` (an IP, possibly IPv4-mapped IPv6) is inside one of ``networks``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` (one hop) for requests from the proxy, nothing for the others."""

    def __init__(self, app: Any, networks: str = LOOPBACK) -> None:
        self.app = app
        self.networks = parse_networks(networks)
        self._fixed = ProxyFix(app, x_for=1, x_proto=1)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if peer_in(str(environ.get("REMOTE_ADDR", "")), self.networks):
            return self._fixed(environ, start_response)
        return self.app(environ, start_response)
