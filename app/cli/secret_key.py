"""Where the pages' secret key comes from when REGIE_SECRET_KEY is not set.

The key signs what the pages trust (CSRF tokens), and the backend checks the frontend's relay
credential with it (`app.api.relay`): a key anyone can read in the source is no key.
On loopback (`regie up` on a laptop) Régie makes a random one once and keeps it in
`var/secret_key`, mode 0600, so a restart in the middle of a show keeps every form and open
console valid, and `regie api` and `regie web` started apart share it; moderators' sessions are
kept beside it (`var/sessions.json`) for the same reason.
Listening on any other address without REGIE_SECRET_KEY is refused: a key made by one machine
would differ on the next, and a deployment should say which key it uses.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from app.cli.command import fail
from app.config import DEFAULT_DATA_DIR

KEY_FILE = "secret_key"
SESSIONS_FILE = "sessions.json"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_or_make_key(path: Path) -> str:
    """The key kept in `path`, made (random, 256 bits, mode 0600) the first time."""
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another `regie` made it meanwhile: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key


def provide_secret_key(host: str, *, data_dir: Path = DEFAULT_DATA_DIR) -> None:
    """Set REGIE_SECRET_KEY (and the session file) for this process's pages, or refuse to start."""
    if os.environ.get("REGIE_SECRET_KEY"):
        return
    if not is_loopback(host):
        fail(
            f"REGIE_SECRET_KEY is not set: set it to a long random value before listening on {host} "
            "(for example: export REGIE_SECRET_KEY=$(openssl rand -hex 32))"
        )
    os.environ["REGIE_SECRET_KEY"] = read_or_make_key(data_dir / KEY_FILE)
    shared = os.environ.get("REGIE_SESSION_URL") or os.environ.get("REGIE_BROADCAST_URL", "")
    if not shared.startswith(("redis://", "rediss://")):
        os.environ.setdefault("REGIE_SESSION_FILE", str(data_dir / SESSIONS_FILE))
