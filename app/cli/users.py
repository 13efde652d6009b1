"""`regie user`: add moderators and admins, and log them out everywhere."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.command import fail
from app.cli.database import in_database, require_current_schema
from app.config import get_settings


def cmd_user_add(args: argparse.Namespace) -> None:
    from app.services.auth import Role, UserExists, add_user

    if not args.password_stdin:
        fail("give the password on standard input with --password-stdin (it never goes in a command line)")
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        fail("the password must have at least 8 characters")
    settings = get_settings()
    require_current_schema(settings)

    async def add(session: AsyncSession) -> None:
        try:
            await add_user(session, name=args.name, role=Role(args.role), password=password)
        except UserExists as error:
            fail(str(error))

    in_database(settings, add)
    print(f"added {args.role} {args.name}")


def cmd_user_revoke(args: argparse.Namespace) -> None:
    from app.services.auth import revoke_all

    settings = get_settings()
    require_current_schema(settings)

    async def revoke(session: AsyncSession) -> int:
        try:
            return await revoke_all(session, name=args.name)
        except LookupError as error:
            fail(str(error))

    count = in_database(settings, revoke)
    print(f"revoked {count} token(s) of {args.name}")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = commands.add_parser("user", help="manage moderators and admins")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="add a user; the password is read from standard input")
    add.add_argument("name")
    add.add_argument("--role", choices=["moderator", "admin"], required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=cmd_user_add)
    revoke = user_commands.add_parser("revoke", help="revoke every token of a user (log them out)")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_user_revoke)
