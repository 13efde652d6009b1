"""A moderator's API token, as a session store keeps it: encrypted under the session's own id.

Stores (Redis, the session file under `var/`) key a session by a digest of its id and keep its
API token sealed with a key derived from that id, which only the moderator's browser holds (the
cookie). Whoever reads the store — a backup, Redis `MONITOR`, a copied file — holds neither a
cookie to replay nor a bearer token to use against the API. The sealing is Fernet (AES-128-CBC
with an HMAC-SHA256 tag) from `cryptography`; the key is the SHA-256 of the session id, which is
already 256 random bits, so no slower derivation would add anything.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


def session_key(session_id: str) -> str:
    """What a store files a session under: never the id itself."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def _fernet(session_id: str) -> Fernet:
    key = hashlib.sha256(b"regie-session-token:" + session_id.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(session_id: str, api_token: str) -> str:
    return _fernet(session_id).encrypt(api_token.encode()).decode("ascii")


def unseal(session_id: str, sealed: str) -> str | None:
    """The token, or None when `sealed` was not made for this session id."""
    try:
        return _fernet(session_id).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError):
        return None
