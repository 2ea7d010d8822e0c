"""Signing in to the console: the admin token, typed once, is exchanged for a session cookie.

The cookie is signed (``itsdangerous``) with a key derived from the admin token, so changing the token
signs every session out, and every worker process checks a cookie another one issued. It is
``HttpOnly`` (scripts cannot read it), ``SameSite=Strict`` (no other site's page sends it) and
``Secure`` over HTTPS, and it expires (``SESSION_SECONDS``). It carries the session's CSRF token,
which every form and htmx request sends back (double submit: a forged form cannot know it), and every
state-changing request must come from the console's own origin too.

Sign-out clears the cookie in the browser; a copy of the cookie taken earlier stays valid until it
expires (the sessions are not kept server-side), which is why the expiry is short.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE = "nectarine_console"
LOGIN_COOKIE = "nectarine_console_login"  # the sign-in form's own CSRF token, before there is a session
SESSION_SECONDS = 8 * 3600


@dataclass(frozen=True)
class ConsoleSession:
    csrf: str
    issued: float


class SignIn(HTTPException):
    """Not signed in (or the session expired): pages redirect to the sign-in form, data routes answer 401."""


def _serializer(admin_token: str) -> URLSafeTimedSerializer:
    key = hmac.new(admin_token.encode(), b"nectarine console session v1", hashlib.sha256).hexdigest()
    return URLSafeTimedSerializer(key, salt="nectarine-console")


def issue(admin_token: str) -> tuple[str, ConsoleSession]:
    """A new session's cookie value and the session (with a fresh CSRF token)."""
    import time

    session = ConsoleSession(csrf=secrets.token_urlsafe(24), issued=time.time())
    return _serializer(admin_token).dumps({"csrf": session.csrf, "issued": session.issued}), session


def read(admin_token: str | None, value: str | None) -> ConsoleSession | None:
    """The session a cookie carries, or None if it is missing, forged, expired, or no admin token is set."""
    if not admin_token or not value:
        return None
    try:
        data = _serializer(admin_token).loads(value, max_age=SESSION_SECONDS)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    return ConsoleSession(csrf=data["csrf"], issued=float(data.get("issued", 0)))


def cookie_options(request: Request, max_age: int = SESSION_SECONDS) -> dict:
    return dict(max_age=max_age, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/admin")


def same_origin(request: Request) -> bool:
    """A state-changing request must come from the console's own pages: its Origin (or, without one,
    its Referer) names this host. Browsers send Origin on every cross-site POST."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer", "")
        return referer.startswith((f"http://{host}/", f"https://{host}/")) or not referer
    return origin in (f"http://{host}", f"https://{host}")


def check_csrf(request: Request, session: ConsoleSession, sent: str | None) -> None:
    if not same_origin(request):
        raise HTTPException(403, "this form must be sent from the console's own pages (the Origin header names another site)")
    if not sent or not secrets.compare_digest(sent.encode(), session.csrf.encode()):
        raise HTTPException(403, "the form's CSRF token is missing or out of date; reload the page and send it again")
