"""Which URLs Tutela may request: http(s) only, no credentials, and only public addresses by default.

A URL from outside (a webhook target, a media reference) must not reach the metadata service
(169.254.169.254), the database next door or the engine itself. `check_target` resolves the host once and
refuses the URL if any address it resolves to is not public; the caller then connects to exactly those
addresses (see `tutela.net.transport`), so a DNS answer that changes between check and connect (DNS
rebinding) cannot redirect the request. Hosts given as numbers in any spelling (`2130706433`, `0x7f.1`,
`::ffff:127.0.0.1`) are caught because the check applies to the resolved addresses, never the spelling.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from tutela.net.errors import FetchFailed, TargetRefused

Resolver = Callable[[str, int], Sequence[str]]
"""Maps (host, port) to IP address strings; the default asks the system resolver (getaddrinfo)."""

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_SETTING = "TUTELA_ALLOW_PRIVATE_NETWORK_TARGETS"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: connect only to `addresses`, and send `host` as Host header and TLS server name."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address getaddrinfo returns for `host`, in its order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: IpAddress) -> bool:
    """True for a globally routable unicast address; IPv4 embedded in IPv6 is judged as the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address in _IPV4_COMPATIBLE:
            return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified or address.is_link_local
    )


def check_target(url: str | httpx.URL, allow_private: bool, resolver: Resolver | None = None) -> Target:
    """Resolve `url`'s host and return where to connect, or raise TargetRefused saying why.

    `allow_private` (setting allow_private_network_targets) permits non-public addresses, for tests and for
    deployments whose platform runs on the same private network; the scheme and credential checks still apply.
    A host that does not resolve raises FetchFailed; one no resolver can take (an empty or too long label)
    raises TargetRefused.
    """
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except httpx.InvalidURL as error:
        raise TargetRefused(f"invalid URL {str(url)!r}: {error}") from error
    if parsed.scheme not in _DEFAULT_PORTS:
        raise TargetRefused(f"scheme {parsed.scheme!r} refused in {_redacted(parsed)}; only http and https")
    if parsed.userinfo:
        raise TargetRefused(f"credentials in the URL refused ({_redacted(parsed)}); use a header or secret")
    host = parsed.host
    if not host:
        raise TargetRefused(f"URL {_redacted(parsed)} has no host")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    try:
        found = (
            [str(ipaddress.ip_address(host))]
            if _is_ip_literal(host)
            else (resolver or system_resolver)(host, port)
        )
    except OSError as error:
        raise FetchFailed(f"cannot resolve host {host!r}: {error}") from error
    except UnicodeError as error:  # the resolver's IDNA encoding: an empty label, or one past 63 characters
        raise TargetRefused(f"invalid host {host!r} in {_redacted(parsed)}: {error}") from error
    if not found:
        raise FetchFailed(f"host {host!r} resolved to no address")
    addresses = [ipaddress.ip_address(address.split("%", 1)[0]) for address in found]
    if not allow_private:
        refused = [str(address) for address in addresses if not is_public(address)]
        if refused:
            raise TargetRefused(
                f"host {host!r} resolves to non-public address {', '.join(refused)}; requests to private, "
                f"loopback, link-local and reserved addresses are refused unless {ALLOW_SETTING}=true"
            )
    return Target(parsed.scheme, host, port, tuple(str(address) for address in addresses))


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _redacted(url: httpx.URL) -> str:
    return str(url.copy_with(username=None, password=None)) if url.userinfo else str(url)
