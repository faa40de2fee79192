"""Where the harvester may connect: the outbound policy that keeps member URLs from reaching inside.

A member's ``oai_url`` is typed by whoever registers the member, and every page the harvester reads
ends up in the public catalogue; without a policy the harvester is a way into the consortium's own
network (server-side request forgery): loopback admin pages, cloud metadata, intranet hosts. So:

* only ``http`` and ``https``, at registration, at request time and for every redirect;
* the host is resolved here, *every* address it resolves to is checked, and the connection goes to a
  checked address (pinned: the name is never resolved a second time by someone else, so a DNS answer
  that changes between check and connect cannot slip a private address in). The URL, hence the
  ``Host`` header and the TLS server name, stays the member's;
* addresses that are not public (loopback, private, link-local, shared, multicast, reserved,
  unspecified, and IPv4 inside IPv6) are refused unless ``harvest_allow_networks`` lists them.

The check runs where the connection is made (:class:`PinnedBackend`, the network layer under httpx),
so a redirect to another host, a retry, or a connection opened again after a keep-alive expired are
all checked alike.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import httpcore
import httpx

from schemas.errors import InvalidInput
from schemas.settings import Network, Settings

from .oai.errors import RefusedAddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})


def _kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public Internet address (``None``: it is one)."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not public"
    return None


class OutboundPolicy:
    """Which schemes and addresses the harvester may reach."""

    def __init__(self, allow: Sequence[Network] = ()) -> None:
        self.allow = list(allow)

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls(settings.harvest_allow_networks)

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused: its kind ("loopback", "private"...); ``None`` when allowed."""
        address = _reached(address)
        if any(address in network for network in self.allow):
            return None
        return _kind(address)

    def check_scheme(self, url: str) -> None:
        """Refuse a URL that is not ``http(s)://host...``."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
            raise RefusedAddress(f"{url!r}: only http(s) URLs with a host may be harvested")

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to, each checked; refused if any of them is refused.

        Refusing the whole name when one address is private (rather than connecting to the public
        ones) keeps a name that mixes both from being tried until it lands inside.
        """
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            found = []
            for *_, sockaddr in infos:
                address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
                if address not in found:
                    found.append(address)
        for address in found:
            kind = self.refusal(address)
            if kind is not None:
                shown = _reached(address)
                what = f"{shown} is" if literal is not None else f"{host} resolves to {shown},"
                raise RefusedAddress(
                    f"{what} a {kind} address: refused (LIENHOP_HARVEST_ALLOW_NETWORKS can allow its network)"
                )
        return [str(a) for a in found]

    async def check_url(self, url: str) -> None:
        """Check a member URL now (at registration or update): scheme, then every address of its host.

        A name that does not resolve is accepted (the repository may come online later); the
        harvester checks again at every connection.
        """
        self.check_scheme(url)
        parts = urlsplit(url)
        assert parts.hostname is not None
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError as exc:
            raise RefusedAddress(f"{url!r}: {exc}") from exc
        try:
            await self.resolve(parts.hostname, port)
        except httpcore.ConnectError:
            return


def _reached(address: IPAddress) -> IPAddress:
    """The address a connection to ``address`` reaches: an IPv4 address dressed as IPv6
    (``::ffff:127.0.0.1``, or 6to4 ``2002:7f00:1::``) is judged as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is not None:
            return inner
    return address


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def check_member_url(url: str | None, settings: Settings) -> None:
    """Refuse (:class:`~schemas.errors.InvalidInput`, a 422) a member ``oai_url`` the harvester may
    not reach; nothing to check without one."""
    if not url:
        return
    try:
        await OutboundPolicy.from_settings(settings).check_url(url)
    except RefusedAddress as exc:
        raise InvalidInput(f"oai_url: {exc.detail}") from exc


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer, resolving and checking the host itself and connecting to a checked
    address (see the module docstring); TLS still names the URL's host."""

    def __init__(self, policy: OutboundPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("connections to local sockets are refused")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over :class:`PinnedBackend`, without proxies from the environment (a proxy
    would make the check judge the proxy's address instead of the repository's)."""

    def __init__(self, policy: OutboundPolicy, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx has no parameter for the network backend: the pool it built is replaced by the same
        # pool over ours (``_pool`` is where every httpx version since 0.18 keeps it)
        ssl_context: ssl.SSLContext = httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(policy),
        )


__all__ = [
    "OutboundPolicy",
    "PinnedBackend",
    "PinnedTransport",
    "check_member_url",
]
