"""Security headers on every response (a Content-Security-Policy without inline script on HTML); the
bearer token that every write needs (PTCE_KG_UPDATE_TOKEN, from the environment only)."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import Request
from starlette.middleware.base import BaseHTTPMiddleware

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


class SecurityHeaders(BaseHTTPMiddleware):
    def __init__(self, app, tiles: str | None = None):
        super().__init__(app)
        self.policy = csp(tiles)

    async def dispatch(self, request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def authorised(request: Request) -> bool:
    token = request.app.state.settings.update_token
    given = request.headers.get("authorization", "")
    if not token or not given.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(given[7:].strip().encode(), token.encode())
