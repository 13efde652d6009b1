"""Who is asking, when the frontend relays a viewer's request: a credential both sides derive.

The frontend posts its browsers' questions and votes, and reports how many browsers follow each
event; to the API, all of that comes from the frontend's own address. It proves it is the
frontend with `X-Regie-Relay`, an HMAC of a fixed label under the deployment's shared
`REGIE_SECRET_KEY`, and then names the browser's address in `X-Regie-Client`. Without a valid
relay credential the header is ignored: a client cannot choose the address it is throttled by.
Written by hand because it is a two-line protocol between this project's own two apps.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from starlette.requests import HTTPConnection

from app.config import Settings

RELAY_HEADER = "X-Regie-Relay"
CLIENT_HEADER = "X-Regie-Client"
_LABEL = b"regie-frontend-relay"


def relay_credential(secret_key: str) -> str:
    return hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).hexdigest()


def is_relayed(request: HTTPConnection, settings: Settings) -> bool:
    """Whether `request` (or a WebSocket handshake) carries the frontend's relay credential."""
    given = request.headers.get(RELAY_HEADER)
    if not given:
        return False
    expected = relay_credential(settings.secret_key.get_secret_value())
    return hmac.compare_digest(given.encode(), expected.encode())


def client_address(request: Request, settings: Settings) -> str:
    """The address a request is throttled by: the relayed browser's, or the peer's own."""
    if is_relayed(request, settings):
        relayed = request.headers.get(CLIENT_HEADER, "").strip()
        if 0 < len(relayed) <= 64:
            return relayed
    return request.client.host if request.client else "unknown"
