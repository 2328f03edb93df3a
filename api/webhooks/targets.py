"""Which webhook targets may be called: not link-local, cloud metadata or unspecified addresses.

A subscription URL is checked when it is registered and again when a delivery connects, since what a
name resolves to can change. Loopback and private addresses stay allowed: interface engines live there.

An address can be written many ways. Besides what `ipaddress` reads, the C library's `inet_aton` (and so
`getaddrinfo`, and the HTTP client over it) reads 2852039166, 0xA9FEA9FE, 0251.0376.0251.0376 and
169.254.43518 as 169.254.169.254; `inet_aton_address` reads those forms the same way, and an IPv6 address
carrying an IPv4 one (`::ffff:169.254.169.254`) is judged by the IPv4 address inside.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to; raises OSError when it does not resolve.
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata"})
# Metadata services outside the link-local range: AWS over IPv6, Alibaba Cloud.
METADATA_ADDRESSES = frozenset(map(ipaddress.ip_address, ("fd00:ec2::254", "100.100.100.200")))
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # 0.0.0.0 and "this network": unspecified, in effect
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


class ForbiddenTarget(Exception):
    """A webhook target this service will not call; the message says why."""


def inet_aton_address(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address `inet_aton` reads in `host` (a.b.c.d, a.b.c, a.b or a; each part decimal, 0x hex
    or 0 octal; the last part fills the bytes left), or None if it is not one."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.fullmatch(part) for part in parts):
        return None
    values = [_part_value(part) for part in parts]
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for position, value in enumerate(leading):
        number |= value << (24 - 8 * position)
    return ipaddress.IPv4Address(number)


def _part_value(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:], 16)
    return int(part, 8) if part.startswith("0") else int(part)


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells (the URL's hostname, without brackets), if it spells one."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return inet_aton_address(host)


def address_refusal(address: IPAddress) -> str | None:
    """Why the address may not be called, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or _compatible(address) or _nat64(address)
        if embedded is not None:
            return address_refusal(embedded)
    if address.is_unspecified or address in _THIS_NETWORK:
        return f"{address} is an unspecified address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    return None


def url_refusal(url: str) -> str | None:
    """Why the URL may not be called, judged without the network, or None."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return "must not contain a user name or password"
    host = (parts.hostname or "").rstrip(".")
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata host"
    address = literal_address(host)
    return address_refusal(address) if address is not None else None


def resolved_refusal(host: str, addresses: list[str]) -> str | None:
    """Why a host that resolves to these addresses may not be called (if any one may not), or None."""
    for text in addresses:
        reason = address_refusal(ipaddress.ip_address(text.split("%")[0]))
        if reason is not None:
            return f"{host} resolves to {reason}"
    return None


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


RESOLVE_SECONDS = 2.0  # at registration; a slower name is checked when a delivery connects


async def registration_refusal(url: str, resolve: Resolver) -> str | None:
    """At registration: the URL's own refusal, else what its host resolves to now. A host that does not
    resolve (yet) is accepted; the deliverer checks it again when it connects."""
    reason = url_refusal(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if reason is not None or literal_address(host) is not None:
        return reason
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            addresses = await resolve(host, port)
    except (OSError, TimeoutError):
        return None
    return resolved_refusal(host, addresses)


def _compatible(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # The deprecated IPv4-compatible form ::a.b.c.d (not :: and ::1, which are IPv6's own).
    number = int(address)
    return ipaddress.IPv4Address(number) if 1 < number < 2**32 else None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
