"""Who may read the status server: loopback is open, anything wider needs ``SENTINEL_STATUS_TOKEN``.

A request shows the token as ``Authorization: Bearer TOKEN``, as ``?token=TOKEN`` (which also sets
a cookie, so the page's own refreshes and screenshots need nothing more), or with that cookie. The
cookie holds a value derived from the token, not the token. Every comparison is constant-time
(:func:`hmac.compare_digest`). ``/healthz`` stays open for supervisors and container health checks.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from aiohttp import web

from sentinel.errors import UsageError

if TYPE_CHECKING:
    from pydantic import SecretStr

COOKIE: Final = "sentinel_status"
QUERY: Final = "token"
OPEN_PATHS: Final = frozenset({"/healthz"})
_COOKIE_CONTEXT: Final = b"sentinel status page cookie v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine (``127.0.0.1``, ``::1``, ``localhost``).

    Anything else counts as reachable from the network, including wildcards and names that are
    not ``localhost`` (which could resolve anywhere).
    """
    if host.lower().rstrip(".") in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(addr: str, host: str, token: SecretStr | None) -> None:
    """The start-up half of the token rule: a status server beyond loopback needs a token.

    Raises:
        UsageError: ``host`` is not loopback and no token is set (``sentinel run`` refuses to start).
    """
    if token is None and not is_loopback(host):
        raise UsageError(
            f"status address {addr} is reachable beyond this machine and no status token is set: "
            "set SENTINEL_STATUS_TOKEN, or bind 127.0.0.1 (--status-addr 127.0.0.1:PORT)"
        )


class TokenGuard:
    """The token rule, as an aiohttp middleware (:meth:`middleware`).

    Args:
        token: the status token, if one is set (always enforced then).
        loopback: the server is bound to loopback only; without a token it is open then, and
            closed (401 for every route but ``/healthz``) otherwise.
    """

    __slots__ = ("_cookie", "_token", "required")

    def __init__(self, token: SecretStr | None, *, loopback: bool) -> None:
        self._token = token.get_secret_value().encode() if token is not None else None
        self._cookie = (
            hmac.new(self._token, _COOKIE_CONTEXT, hashlib.sha256).hexdigest().encode()
            if self._token is not None
            else None
        )
        self.required = self._token is not None or not loopback

    @property
    def has_token(self) -> bool:
        """Whether a token is set."""
        return self._token is not None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Let the request through, send it on without the token in its URL, or answer 401."""
        if not self.required or request.path in OPEN_PATHS:
            return await handler(request)
        if self._matches(_bearer(request), self._token) or self._matches(
            request.cookies.get(COOKIE), self._cookie
        ):
            return await handler(request)
        if self._matches(request.query.get(QUERY), self._token):
            if request.method in ("GET", "HEAD") and request.path == "/":
                # Off the address bar and out of the history; the cookie carries it from here.
                rest = request.rel_url.with_query([(k, v) for k, v in request.query.items() if k != QUERY])
                response: web.StreamResponse = web.Response(
                    status=303, headers={"Location": str(rest), "Cache-Control": "no-store"}
                )
            else:
                response = await handler(request)
            self._set_cookie(response)
            return response
        return web.Response(
            status=401,
            text="401: this sentinel's status needs its token "
            "(Authorization: Bearer TOKEN, or open /?token=TOKEN once)\n",
            headers={"WWW-Authenticate": 'Bearer realm="sentinel"', "Cache-Control": "no-store"},
        )

    def _set_cookie(self, response: web.StreamResponse) -> None:
        assert self._cookie is not None
        response.set_cookie(COOKIE, self._cookie.decode(), path="/", httponly=True, samesite="Strict")

    @staticmethod
    def _matches(given: str | None, expected: bytes | None) -> bool:
        if given is None or expected is None:
            return False
        return hmac.compare_digest(given.encode(), expected)


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


__all__ = ["COOKIE", "OPEN_PATHS", "TokenGuard", "check_exposure", "is_loopback"]
