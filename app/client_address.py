"""Which address a request comes from: its socket's, unless a proxy we were told to trust says.

uvicorn believes `X-Forwarded-For` from 127.0.0.1 by default, so any local client (or anything
behind a local proxy that passes the header through) could name itself a new address on every
request and escape the per-address throttles. Régie's servers start with uvicorn's own proxy
handling off (`proxy_headers=False` in the server config), and each app believes the header only
from the addresses listed in `REGIE_TRUSTED_PROXIES`, through uvicorn's `ProxyHeadersMiddleware`
— the same parsing, with an empty default.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def trust_forwarded_headers(app: Starlette, proxies: Sequence[str]) -> None:
    """Believe X-Forwarded-For / X-Forwarded-Proto only from `proxies` (none by default)."""
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(proxies))
