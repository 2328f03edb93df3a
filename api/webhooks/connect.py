"""The deliverer's connections: to an address checked when the connection is made, never another.

Checking a name and then letting the HTTP client resolve it again would leave a gap in which the name
could change (DNS rebinding). So the network layer under the client resolves the host itself, refuses the
connection if any address is forbidden (api/webhooks/targets.py), and connects to the addresses it
checked. TLS still verifies the certificate against the host name of the URL.
"""

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from api.webhooks.targets import ForbiddenTarget, Resolver, resolved_refusal


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.resolve(host, port)
        except OSError as exc:  # an unknown name is an ordinary failed attempt, retried later
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        reason = resolved_refusal(host, addresses)
        if reason is not None:
            raise ForbiddenTarget(reason)
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in dict.fromkeys(addresses):
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (OSError, httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenTarget("webhooks are sent over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection is checked."""

    def __init__(self, resolve: Resolver) -> None:
        super().__init__(trust_env=False)
        # httpx does not pass a network backend through; its pool (public httpcore API) takes one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=_CheckedBackend(resolve)
        )
