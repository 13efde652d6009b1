"""`regie`: run the product, import programmes, manage moderators, migrate the database.

Every failure a user can cause ends with one clear line on stderr and a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import uvicorn
import yaml

from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, is_sqlite
from app.domain.programme import ProgrammeDocument, ProgrammeError, parse_programme

SEED_DIR = Path(__file__).parent / "programmes"
log = logging.getLogger("regie")


class CommandError(Exception):
    """A mistake the user can fix; its message is the whole answer."""


def fail(message: str) -> NoReturn:
    raise CommandError(message)


# --- Programmes ----------------------------------------------------------------------------


def read_programme(path: Path) -> ProgrammeDocument:
    """Read and validate one programme file (YAML, or JSON which YAML also reads)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{path}: cannot be read ({error})")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML or JSON"
        fail(f"{path}{where}: {problem}")
    if not isinstance(data, dict):
        fail(f"{path}: a programme is a mapping (slug, title, segments, …), not {type(data).__name__}")
    try:
        return parse_programme(data, source=str(path))
    except ProgrammeError as error:
        lines = "\n".join(f"  - {problem}" for problem in error.problems)
        fail(f"{path}: refused, nothing was stored:\n{lines}")


async def import_programmes(settings: Settings, documents: Sequence[ProgrammeDocument]) -> list[str]:
    """Store every document in one transaction: all of them, or none."""
    from app.services.programmes import ProgrammeLocked, replace_programme

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            done = []
            for document in documents:
                try:
                    created = await replace_programme(session, document)
                except ProgrammeLocked as error:
                    fail(f"{error} Nothing was stored.")
                done.append(f"{'created' if created else 'replaced'} {document.slug}")
            return done
    finally:
        await engine.dispose()


async def database_is_empty(settings: Settings) -> bool:
    from sqlalchemy import func, select

    from app.models import Event

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            count = (await session.execute(select(func.count()).select_from(Event))).scalar_one()
            return bool(count == 0)
    finally:
        await engine.dispose()


def seed_documents() -> list[ProgrammeDocument]:
    return [read_programme(path) for path in sorted(SEED_DIR.glob("*.yaml"))]


# --- Schema --------------------------------------------------------------------------------


def upgrade_schema(settings: Settings) -> None:
    from app.migrate import upgrade

    with database_errors(settings):
        upgrade(settings.database_url)


def require_current_schema(settings: Settings) -> None:
    from alembic.script import ScriptDirectory

    from app.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
    with database_errors(settings):
        current = asyncio.run(_current_revision(settings))
    if current != head:
        fail(
            "the database schema is not up to date "
            f"({current or 'empty'}, expected {head}): run `regie db upgrade` first"
        )


async def _current_revision(settings: Settings) -> str | None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError, ProgrammingError

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            try:
                result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            except (ProgrammingError, OperationalError) as error:
                if "alembic_version" in str(error):
                    return None
                raise
            row = result.first()
            return str(row[0]) if row else None
    finally:
        await engine.dispose()


@contextlib.contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except (OperationalError, OSError) as error:
        where = "the SQLite file" if is_sqlite(settings.database_url) else "PostgreSQL"
        reason = getattr(error, "orig", None) or error
        fail(f"cannot reach the database ({where}, REGIE_DATABASE_URL): {reason}")


# --- Serving -------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve()`, so several can run in one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_config(app: Any, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # permessage-deflate would cost a deflate per viewer per change for a 1–2 KB state
        # and doubles fan-out time (see perf notes); our messages gain nothing from it.
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="on",
        log_level="info",
        **options,
    )


async def serve(*configs: uvicorn.Config) -> None:
    servers = [_Server(config) for config in configs]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve() for server in servers))


def frontend_app(api_url: str) -> Any | None:
    try:
        from frontend.main import create_app as create_frontend  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    import os

    os.environ.setdefault("REGIE_API_URL", api_url)
    return create_frontend()


def require_single_worker(settings: Settings, workers: int) -> None:
    if workers > 1 and settings.broadcast_url.startswith("memory://"):
        fail(
            "several workers need a shared broadcast: set REGIE_BROADCAST_URL=redis://… "
            "(with memory:// a press or a login would reach only one worker)"
        )


# --- Commands ------------------------------------------------------------------------------


def require_free_port(host: str, port: int, option: str) -> None:
    """Say which port is taken before anything starts, rather than half-starting."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        fail(
            f"cannot listen on {host}:{port} ({os.strerror(error.errno) if error.errno else error}): "
            f"is Régie already running? Choose another port with {option}"
        )


def cmd_up(args: argparse.Namespace) -> None:
    require_free_port(args.host, args.api_port, "--api-port")
    require_free_port(args.host, args.web_port, "--web-port")
    settings = get_settings()
    upgrade_schema(settings)
    with database_errors(settings):
        if asyncio.run(database_is_empty(settings)):
            for line in asyncio.run(import_programmes(settings, seed_documents())):
                log.info("seed programme %s", line)
    from app.main import create_app

    api_url = f"http://{_loopback(args.host)}:{args.api_port}"
    configs = [server_config(create_app(settings), host=args.host, port=args.api_port)]
    web = frontend_app(api_url)
    if web is None:
        log.warning("the frontend is not installed: serving the API only")
    else:
        configs.append(server_config(web, host=args.host, port=args.web_port))
    log.info("Régie: API on %s/api/v1 (docs at %s/docs)", api_url, api_url)
    if web is not None:
        log.info("Régie: pages on http://%s:%d/", _loopback(args.host), args.web_port)
    asyncio.run(serve(*configs))


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def run_server(target: str, *, host: str, port: int, workers: int) -> None:
    config = server_config(target, host=host, port=port, factory=True, workers=workers)
    if workers == 1:
        uvicorn.Server(config).run()
        return
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[config.bind_socket()]).run()


def cmd_api(args: argparse.Namespace) -> None:
    require_single_worker(get_settings(), args.workers)
    run_server("app.main:create_app", host=args.host, port=args.port, workers=args.workers)


def cmd_web(args: argparse.Namespace) -> None:
    try:
        import frontend.main  # noqa: F401
    except ImportError:
        fail("the frontend package is not installed")
    # Moderators' sessions and login throttling are shared through Redis, as live changes are.
    require_single_worker(get_settings(), args.workers)
    run_server("frontend.main:create_app", host=args.host, port=args.port, workers=args.workers)


def cmd_import(args: argparse.Namespace) -> None:
    settings = get_settings()
    documents = [read_programme(Path(name)) for name in args.files]
    slugs = [document.slug for document in documents]
    if len(slugs) != len(set(slugs)):
        fail("two files describe the same event slug; nothing was stored")
    require_current_schema(settings)
    with database_errors(settings):
        for line in asyncio.run(import_programmes(settings, documents)):
            print(line)


def cmd_user_add(args: argparse.Namespace) -> None:
    from app.services.auth import Role, UserExists, add_user

    if not args.password_stdin:
        fail("give the password on standard input with --password-stdin (it never goes in a command line)")
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        fail("the password must have at least 8 characters")
    settings = get_settings()
    require_current_schema(settings)

    async def add() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await add_user(session, name=args.name, role=Role(args.role), password=password)
        except UserExists as error:
            fail(str(error))
        finally:
            await engine.dispose()

    with database_errors(settings):
        asyncio.run(add())
    print(f"added {args.role} {args.name}")


def cmd_user_revoke(args: argparse.Namespace) -> None:
    from app.services.auth import revoke_all

    settings = get_settings()
    require_current_schema(settings)

    async def revoke() -> int:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await revoke_all(session, name=args.name)
        except LookupError as error:
            fail(str(error))
        finally:
            await engine.dispose()

    with database_errors(settings):
        count = asyncio.run(revoke())
    print(f"revoked {count} token(s) of {args.name}")


def parse_duration(text: str) -> timedelta:
    """`30s`, `2m`, `1h` or a number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"« {text} » is not a duration like 30s, 2m or 1h")
    return timedelta(seconds=float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]])


def positive_speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = 0
    if not 0 < speed <= 100_000:
        raise argparse.ArgumentTypeError(
            f"« {text} » is not a speed between 0 and 100000 (60 = a minute a second)"
        )
    return speed


def cmd_rehearse(args: argparse.Namespace) -> None:
    """Copy a programme as a rehearsal starting soon, and fly it through the running API."""
    import httpx

    from app.autopilot import Outcome

    settings = get_settings()
    api_url = args.api_url.rstrip("/")
    try:
        httpx.get(f"{api_url}/healthz", timeout=5).raise_for_status()
    except httpx.HTTPError:
        fail(
            f"no Régie API answers at {api_url}: run `regie up` in another terminal first "
            "(or point --api-url at the API that uses this database)"
        )
    require_current_schema(settings)
    with database_errors(settings):
        document, token = asyncio.run(_prepare_rehearsal(settings, args.slug, args.speed, args.starts_in))
    length = document.ends_at - document.starts_at
    local_start = document.starts_at.astimezone(ZoneInfo(document.timezone))
    print(
        f"rehearsal « {document.title} » created as {document.slug}: starts at {local_start:%H:%M:%S} "
        f"(in {args.starts_in.total_seconds():g} s), lasts {_clock_text(length)} at speed ×{args.speed:g}",
        flush=True,
    )
    print(
        f"watch it on the page /events/{document.slug} (or {api_url}/api/v1/events/{document.slug}/live); "
        "any moderator can take over from the console at any moment",
        flush=True,
    )
    result = asyncio.run(_fly(api_url, document.slug, token))
    if result.outcome is Outcome.REFUSED:
        fail(f"the autopilot stopped: {result.message}")
    print(
        result.message if result.outcome is Outcome.FINISHED else "the autopilot has handed over", flush=True
    )


async def _prepare_rehearsal(
    settings: Settings, source: str, speed: float, starts_in: timedelta
) -> tuple[ProgrammeDocument, str]:
    from app.services.programmes import EventNotFound
    from app.services.rehearsal import autopilot_token, create_rehearsal

    now = datetime.now(UTC)
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            document = await create_rehearsal(
                session, source=source, starts_at=now + starts_in, speed=speed, now=now
            )
            token = await autopilot_token(session, now=now, ttl=timedelta(seconds=settings.token_ttl_seconds))
            return document, token
    except EventNotFound as error:
        fail(str(error))
    finally:
        await engine.dispose()


async def _fly(api_url: str, slug: str, token: str) -> Any:
    import httpx

    from app.autopilot import Autopilot

    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        try:
            if (await client.get(f"/api/v1/events/{slug}")).status_code == 404:
                fail(f"the API at {api_url} does not know {slug}: does it use this REGIE_DATABASE_URL?")
            return await Autopilot(
                client, slug=slug, token=token, say=lambda line: print(line, flush=True)
            ).run()
        finally:
            with contextlib.suppress(httpx.HTTPError):
                await client.post("/api/v1/auth/revoke", headers={"Authorization": f"Bearer {token}"})


def _clock_text(length: timedelta) -> str:
    seconds = round(length.total_seconds())
    return (
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    upgrade_schema(get_settings())
    print("database schema is up to date")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regie",
        description="Régie: the control room of a live virtual event.",
        epilog="Settings come from the environment: REGIE_DATABASE_URL, REGIE_BROADCAST_URL, "
        "REGIE_API_URL, REGIE_SECRET_KEY.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run the backend and the frontend on the embedded default")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--api-port", type=int, default=8000, help="the API's port (default 8000)")
    up.add_argument("--web-port", type=int, default=8080, help="the pages' port (default 8080)")
    up.set_defaults(handler=cmd_up)

    api = commands.add_parser("api", help="run the backend alone (migrations are `regie db upgrade`)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="processes; more than 1 needs redis://")
    api.set_defaults(handler=cmd_api)

    web = commands.add_parser("web", help="run the frontend alone (finds the API at REGIE_API_URL)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8080)
    web.add_argument("--workers", type=int, default=1)
    web.set_defaults(handler=cmd_web)

    imp = commands.add_parser("import", help="create or replace programmes from YAML or JSON files")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.set_defaults(handler=cmd_import)

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

    rehearse = commands.add_parser(
        "rehearse",
        help="rehearse a programme: a copy starting now, advanced by an autopilot (needs `regie up` running)",
        description="Copy the programme SLUG as a rehearsal that starts soon, its times compressed by "
        "--speed, and advance it on its planned times through the running API, as a moderator would. Viewers "
        "see it live; a moderator takes over by pressing any button in the console, and the autopilot stops.",
    )
    rehearse.add_argument("slug", metavar="SLUG", help="the programme to rehearse")
    rehearse.add_argument(
        "--speed", type=positive_speed, default=60.0, help="how many times faster than planned (default 60)"
    )
    rehearse.add_argument(
        "--starts-in",
        type=parse_duration,
        default=timedelta(seconds=10),
        help="delay before it starts (default 10s)",
    )
    rehearse.add_argument(
        "--api-url",
        default=os.environ.get("REGIE_API_URL", "http://127.0.0.1:8000"),
        help="the running API (default $REGIE_API_URL or http://127.0.0.1:8000)",
    )
    rehearse.set_defaults(handler=cmd_rehearse)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply the migrations").set_defaults(handler=cmd_db_upgrade)
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


if __name__ == "__main__":
    sys.exit(main())
