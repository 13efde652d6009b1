"""Sending a message: SMTP through aiosmtplib when `REGIE_SMTP_URL` is set, else an .eml file.

The embedded default writes each message under `var/outbox/` so that `regie up` needs no mail
server and an organiser can open what would have gone out. A failure to send never undoes what
was committed: it is logged (without the address) and the person can ask for their link again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from app.config import Settings

logger = logging.getLogger("app.mail")


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "REGIE_SMTP_URL must look like smtp://host:port or smtps://user:password@host:port"
            )
        self._hostname = parts.hostname
        self._port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self._tls = parts.scheme == "smtps"
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._hostname,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._tls,
            # STARTTLS when the server offers it, as aiosmtplib does by default on plain smtp://.
            start_tls=None if not self._tls else False,
            timeout=self._timeout,
        )


class OutboxTransport:
    """Each message as `<time>-<id>.eml` in a directory, written whole then renamed into place."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid1().hex}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(message.as_bytes())
        os.replace(partial, self.directory / name)


class Mailer:
    """Sends what `app.mail.messages` builds; never raises (the caller already committed)."""

    def __init__(self, transport: Transport, *, sender: str) -> None:
        self.transport = transport
        self.sender = sender

    async def send(self, message: EmailMessage) -> bool:
        if "From" not in message:
            message["From"] = self.sender
        try:
            await self.transport.send(message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            logger.warning(
                "a message (%s) could not be sent: %s", message.get("X-Regie-Kind", "?"), type(error).__name__
            )
            return False
        return True


def create_mailer(settings: Settings) -> Mailer:
    transport: Transport
    if settings.smtp_url is not None and settings.smtp_url.get_secret_value():
        transport = SmtpTransport(settings.smtp_url.get_secret_value())
    else:
        transport = OutboxTransport(settings.outbox_dir)
    return Mailer(transport, sender=settings.mail_from)
