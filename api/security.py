"""Security headers on every response (a Content-Security-Policy without inline script on HTML); the
bearer token that every write needs (PTCE_KG_UPDATE_TOKEN, from the environment only).

The headers are added by a pure ASGI middleware (it rewrites the response's start message only): Starlette's
BaseHTTPMiddleware runs every response through an extra task and memory stream (0.3–0.4 ms a request each)."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response

from .deps import service_of
from .i18n import COOKIE, LANGS

# YASGUI sets inline styles on its elements; scripts all come from this origin (no inline script, no CDN).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def csp(tiles: str | None = None) -> str:
    """The policy; a configured map tile server is the one outside origin images may come from."""
    if not tiles:
        return CSP
    parts = urlsplit(tiles)
    origin = f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"  # {s}: Leaflet's subdomains
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")


def _cookie_header(lang: str) -> bytes:
    """The Set-Cookie value that remembers a language for a year (as Starlette's set_cookie writes it)."""
    response = Response()
    response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return dict(response.raw_headers)[b"set-cookie"]


class ResponseHeaders:
    """ASGI middleware over every HTTP response: the security headers (nosniff, DENY, referrer policy; the
    Content-Security-Policy on HTML), unless the route set its own, and on an HTML page asked with an explicit
    `?lang=fr|en`, the cookie that remembers that choice for the next pages (api/i18n.py reads it)."""

    def __init__(self, app, tiles: str | None = None):
        self.app = app
        self.policy = csp(tiles).encode("latin-1")
        self.cookies = {lang: _cookie_header(lang) for lang in LANGS}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        query = scope.get("query_string", b"")
        lang = None
        if b"lang=" in query:
            asked = [v for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if k == "lang"]
            lang = asked[-1] if asked and asked[-1] in LANGS else None

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", self.policy.decode("latin-1"))
                    if lang is not None:
                        headers.append("set-cookie", self.cookies[lang].decode("latin-1"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def authorised(request: Request) -> bool:
    token = service_of(request).settings.update_token
    given = request.headers.get("authorization", "")
    if not token or not given.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(given[7:].strip().encode(), token.encode())
