"""The frontend's proof, to the backend, that a request comes from it: the relay credential.

The HMAC-SHA256 of a fixed label under the deployment's `REGIE_SECRET_KEY`, which both apps
read (`regie up` sets it for both). The backend computes the same (`app.api.relay`); this side
is written again rather than imported, since the frontend never imports the backend.
"""

from __future__ import annotations

import hashlib
import hmac

RELAY_HEADER = "X-Regie-Relay"
_LABEL = b"regie-frontend-relay"


def relay_headers(secret_key: str) -> dict[str, str]:
    return {RELAY_HEADER: hmac.new(secret_key.encode(), _LABEL, hashlib.sha256).hexdigest()}
