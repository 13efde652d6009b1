"""The frontend's proof, to the backend, that a request comes from it: the relay credential.

The HMAC-SHA256 of a fixed label under the deployment's `REGIE_SECRET_KEY`, which both apps
read (`regie up` sets it for both). The backend computes the same (`app.api.relay`); this side
is written again rather than imported, since the frontend never imports the backend.

With it, the frontend may name the browser it relays (questions, votes) in `X-Regie-Client`:
the API then throttles per browser address rather than per this process's. The address is the
one this app trusts (`request.client`, after `REGIE_TRUSTED_PROXIES`).
"""

from __future__ import annotations

import hashlib
import hmac

RELAY_HEADER = "X-Regie-Relay"
CLIENT_HEADER = "X-Regie-Client"
_LABEL = b"regie-frontend-relay"


def relay_headers(secret_key: str, client: str | None = None) -> dict[str, str]:
    """The credential, and the browser's address when the request relays one."""
    headers = {RELAY_HEADER: hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).hexdigest()}
    if client:
        headers[CLIENT_HEADER] = client[:64]
    return headers
