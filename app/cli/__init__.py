"""`regie`: run the product, import programmes, manage moderators, rehearse, migrate the database.

One module per family of commands (`serve`, `programmes`, `users`, `rehearse`); every one reaches
the database through `app.cli.database`. Every failure a user can cause ends with one clear line
on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from app.cli import programmes, registrations, rehearse, serve, users
from app.cli.command import CommandError
from app.cli.programmes import import_programmes, read_programme
from app.cli.serve import server_config

__all__ = ["build_parser", "import_programmes", "main", "read_programme", "server_config"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regie",
        description="Régie: the control room of a live virtual event.",
        epilog="Settings come from the environment: REGIE_DATABASE_URL, REGIE_BROADCAST_URL, "
        "REGIE_API_URL, REGIE_SECRET_KEY (the README lists them all).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_commands(commands)
    programmes.add_commands(commands)
    users.add_commands(commands)
    rehearse.add_commands(commands)
    registrations.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except CommandError as error:
        print(f"regie {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
