"""What routes depend on: the loaded assistant, the caller's identity (site key, client address),
rate limits, and the admin token. Each arrives through ``Depends``; the shared state lives on
``app.state.runtime``, so tests build an app around a real assistant of their own.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request

from ..store import masked
from ..settings import Settings
from ..telemetry import ServiceMetrics


@dataclass
class Runtime:
    """One app's state: settings, the assistant (once loaded), limits, metrics and sinks."""

    settings: Settings
    nec: Any = None
    ready: bool = False
    checked: float = 0.0  # when the index folder was last checked for a newer generation
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    reindexing: threading.Lock = field(default_factory=threading.Lock)
    limit_warned: float = -1e9
    limiter: Any = None
    limits: dict = field(default_factory=dict)
    sinks: dict = field(default_factory=dict)
    handoff: Any = None  # anyio.CapacityLimiter for drafts and submissions, made in the lifespan (it needs the event loop)

    def __post_init__(self) -> None:
        self.limiter, self.limits = make_limiter(self.settings)
        self.sinks = self.settings.sinks()
        self.proxies = self.settings.proxies()

    async def hit(self, kind: str, who: str) -> int | None:
        """Count one request against limit ``kind``; the seconds to wait when it is over, else None.

        If the shared storage goes away, requests are served without limits and a warning is printed
        now and then (fail open: an outage of Redis must not take the assistant down)."""
        limit = self.limits[kind]
        try:
            if await self.limiter.hit(limit, kind, who):
                return None
            reset, _remaining = await self.limiter.get_window_stats(limit, kind, who)
        except Exception as exc:  # noqa: BLE001 - the shared storage went away
            if time.monotonic() - self.limit_warned > 60:
                self.limit_warned = time.monotonic()
                print(f"nectarine: rate limits not enforced, storage unreachable: {type(exc).__name__}: {exc}", flush=True)
            return None
        self.metrics.rate_limited.labels(kind).inc()
        return max(1, int(reset - time.time() + 0.999))

    async def locked_out(self, who: str) -> int | None:
        """Seconds left of an admin lockout for this client (too many wrong tokens), else None."""
        limit = self.limits["admin-fail"]
        try:
            if await self.limiter.test(limit, "admin-fail", who):
                return None
            reset, _remaining = await self.limiter.get_window_stats(limit, "admin-fail", who)
        except Exception:  # noqa: BLE001 - fail open, as in hit()
            return None
        return max(1, int(reset - time.time() + 0.999))

    async def failed_admin(self, who: str) -> None:
        try:
            await self.limiter.hit(self.limits["admin-fail"], "admin-fail", who)
        except Exception:  # noqa: BLE001 - fail open, as in hit()
            pass


def make_limiter(settings: Settings):
    """Moving-window limits (the ``limits`` package, its asyncio side), counted in this process or in Redis."""
    from limits import parse
    from limits.aio.storage import MemoryStorage, RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter

    uri = settings.rate_limit_storage
    try:
        if uri.startswith(("redis://", "rediss://")):
            storage = RedisStorage(f"async+{uri}", implementation="redispy", socket_timeout=2, socket_connect_timeout=2)
        elif uri == "memory://":
            storage = MemoryStorage()
        else:
            raise ValueError("use memory:// (this process) or redis://HOST:PORT/DB (shared by workers)")
    except Exception as exc:  # noqa: BLE001 - a bad URI or a missing client library: say which setting
        raise ValueError(f"NECTARINE_RATE_LIMIT_STORAGE={masked(uri)}: {exc}") from None
    limits = {"answer": settings.rate_limit, "other": settings.rate_limit_other, "any": settings.rate_limit_any,
              "admin": settings.rate_limit_admin, "admin-fail": settings.admin_lockout}
    return MovingWindowRateLimiter(storage), {k: parse(v) for k, v in limits.items()}


def client_address(peer: str | None, forwarded_for: str | None, proxies: list) -> str:
    """The caller's address. ``X-Forwarded-For`` is read only when the peer is a trusted proxy, and then
    from the right: the first address that is not itself a trusted proxy is the client (the ones to
    its left were written by the client and prove nothing).

    >>> client_address("10.0.0.2", "6.6.6.6, 203.0.113.9", [ipaddress.ip_network("10.0.0.0/8")])
    '203.0.113.9'
    >>> client_address("127.0.0.1", "6.6.6.6", [])
    '127.0.0.1'
    """
    peer = peer or "unknown"
    if not proxies or not forwarded_for or not _within(peer, proxies):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for[:2000].split(",")]):
        if not _within(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed hop: do not trust the rest of the chain
    return peer


def _within(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


Rt = Annotated[Runtime, Depends(runtime)]


def client(request: Request, rt: Rt) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), rt.proxies)


Client = Annotated[str, Depends(client)]


async def in_handoff_threads(rt: Runtime, fn, *args, **kwargs):
    """Run costly handoff work (drafting, re-redacting a submitted draft) in its own capacity, so that
    answers keep the request threads however many large drafts arrive at once."""
    import functools

    import anyio

    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=rt.handoff)


async def assistant(rt: Rt):
    if not rt.ready:
        raise HTTPException(503, "the assistant is still loading; retry in a few seconds", headers={"Retry-After": "2"})
    return rt.nec


async def site(request: Request, rt: Rt, who: Client, x_site_key: Annotated[str | None, Header(max_length=200)] = None) -> str:
    """The caller's identity for rate limits; checks the site key and the page's origin."""
    settings = rt.settings
    if not settings.require_site_key:
        return f"-|{who}"
    if not x_site_key or x_site_key not in settings.site_keys:
        raise HTTPException(401, "missing or unknown site key: send the X-Site-Key of the page that embeds the panel")
    origin = request.headers.get("origin")
    same_origin = origin in (f"http://{request.headers.get('host')}", f"https://{request.headers.get('host')}")
    if origin and not same_origin and origin not in settings.site_keys[x_site_key]:
        raise HTTPException(403, f"origin {origin} is not allowed for this site key; add it to the key's origins (NECTARINE_SITE_KEYS)")
    return f"{x_site_key}|{who}"


def too_many(wait: int) -> HTTPException:
    return HTTPException(429, f"too many requests; wait {wait} s and try again", headers={"Retry-After": str(wait)})


def limited(kind: str):
    async def check(rt: Rt, who: Annotated[str, Depends(site)]) -> str:
        wait = await rt.hit(kind, who)
        if wait is not None:
            raise too_many(wait)
        return who

    return check


def limited_by_address(kind: str):
    """For routes that do not need a site key (a ticket read by its owner or an admin): the address alone."""
    async def check(rt: Rt, who: Client) -> str:
        wait = await rt.hit(kind, f"-|{who}")
        if wait is not None:
            raise too_many(wait)
        return who

    return check


async def _admin(rt: Rt, who: str, authorization: str | None) -> None:
    wait = await rt.hit("admin", who)
    if wait is not None:
        raise too_many(wait)
    wait = await rt.locked_out(who)
    if wait is not None:  # even the right token waits: a guesser must not learn when it found it
        raise HTTPException(429, f"too many wrong admin tokens from this address; wait {wait} s", headers={"Retry-After": str(wait)})
    if rt.settings.admin_token is None:
        raise HTTPException(503, "admin routes are off: set NECTARINE_ADMIN_TOKEN to enable them")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), rt.settings.admin_token.get_secret_value().encode()):
        await rt.failed_admin(who)
        raise HTTPException(401, "admin routes need 'Authorization: Bearer <NECTARINE_ADMIN_TOKEN>'", headers={"WWW-Authenticate": "Bearer"})


async def admin(rt: Rt, who: Client, authorization: Annotated[str | None, Header(max_length=1000)] = None) -> None:
    await _admin(rt, who, authorization)


async def is_admin(rt: Rt, who: Client, authorization: Annotated[str | None, Header(max_length=1000)] = None) -> bool:
    """True for a valid admin token; a wrong one counts towards the lockout like on an admin route."""
    if authorization is None:
        return False
    try:
        await _admin(rt, who, authorization)
    except HTTPException as exc:
        if exc.status_code == 429:
            raise
        return False
    return True


Nec = Annotated[Any, Depends(assistant)]
Answering = Annotated[str, Depends(limited("answer"))]
Other = Annotated[str, Depends(limited("other"))]
OtherByAddress = Annotated[str, Depends(limited_by_address("other"))]
Admin = Annotated[None, Depends(admin)]
AsAdmin = Annotated[bool, Depends(is_admin)]
