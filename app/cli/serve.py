"""`regie up`, `regie api`, `regie web`: the servers.

`regie up` is the one place that starts the backend and the frontend together: it builds each
app from its own settings object, in one process, so that nothing is passed through
`os.environ`. It is also the one module of `app` allowed to import `frontend` (see the
import-linter contracts in pyproject.toml).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from sse_starlette.sse import AppStatus

from app.cli.command import fail
from app.cli.database import upgrade_schema
from app.cli.programmes import seed_if_empty
from app.cli.secret_key import provide_secret_key
from app.config import Settings, get_settings
from app.connections import GuardedServer, HeaderTimeoutProtocol
from fanout.wire import ViewerProtocol

log = logging.getLogger("regie")


class _Server(GuardedServer):
    """A uvicorn server that leaves signals to `serve()`, so several can run in one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


SHUTDOWN_GRACE_SECONDS = 5


def server_config(app: Any, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # permessage-deflate would cost a deflate per viewer per change for a 1–2 KB state
        # and doubles fan-out time (see perf notes); our messages gain nothing from it.
        # uvicorn's websockets-sansio protocol, plus the fan-out's way to write pre-framed bytes
        # to each viewer's transport (fanout.wire).
        ws=ViewerProtocol,
        # uvicorn's httptools protocol with a deadline on request headers (slowloris).
        http=HeaderTimeoutProtocol,
        ws_per_message_deflate=False,
        lifespan="on",
        log_level="info",
        # Forwarded headers are believed only from REGIE_TRUSTED_PROXIES, by the apps themselves
        # (app.client_address); uvicorn's default trusts 127.0.0.1.
        proxy_headers=False,
        # A restart must not wait on its viewers: streams are ended at once (see `serve`), and any
        # other connection still open after this long is cut, so a process manager's restart
        # takes seconds, not its kill timeout.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        **options,
    )


async def serve(*configs: uvicorn.Config) -> None:
    servers = [_Server(config) for config in configs]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        # Server-sent event streams never end by themselves and uvicorn waits for every response
        # to finish: sse-starlette ends its streams on this flag, which it sets itself only when
        # uvicorn owns the signal handlers (here `serve` does, for several servers at once).
        AppStatus.should_exit = True
        for server in servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve() for server in servers))


def frontend_app(api_url: str) -> Any | None:
    """The pages, talking to the API this `regie up` serves; None if the frontend is not installed."""
    try:
        from frontend.config import Settings as FrontendSettings
        from frontend.main import create_app as create_frontend
    except ImportError:
        return None
    # Every other setting comes from the environment, as with `regie web`.
    return create_frontend(FrontendSettings(api_url=api_url))


def require_single_worker(settings: Settings, workers: int) -> None:
    if workers > 1 and settings.broadcast_url.startswith("memory://"):
        fail(
            "several workers need a shared broadcast: set REGIE_BROADCAST_URL=redis://… "
            "(with memory:// a press or a login would reach only one worker)"
        )


def require_free_port(host: str, port: int, option: str) -> None:
    """Say which port is taken before anything starts, rather than half-starting."""
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
    provide_secret_key(args.host)  # before anything starts: off loopback, no key means no start
    settings = get_settings()
    upgrade_schema(settings)
    for line in seed_if_empty(settings):
        log.info("seed programme %s", line)
    from app.main import create_app

    api_url = f"http://{_loopback(args.host)}:{args.api_port}"
    # The pages are this process's own: e-mailed links point at them, and their forms forward
    # each visitor's address from loopback, so the per-address registration limit counts visitors.
    updates: dict[str, object] = {}
    if "REGIE_PUBLIC_URL" not in os.environ:
        updates["public_url"] = f"http://{_loopback(args.host)}:{args.web_port}"
    if "REGIE_TRUSTED_PROXIES" not in os.environ:
        updates["trusted_proxies"] = ["127.0.0.1"]
    settings = settings.model_copy(update=updates)
    configs = [server_config(create_app(settings), host=args.host, port=args.api_port)]
    web = frontend_app(api_url)
    if web is None:
        log.warning("the frontend is not installed: serving the API only")
    else:
        configs.append(server_config(web, host=args.host, port=args.web_port))
    log.info("Régie: API on %s/api/v1 (docs at %s/docs)", api_url, api_url)
    if web is not None:
        log.info("Régie: pages on http://%s:%d/", _loopback(args.host), args.web_port)
        log.info(
            "Régie: to see a show move within a minute, run in another terminal: "
            "regie rehearse diner-elus-entreprises-2020 --speed 60 --starts-in 10s"
        )
    asyncio.run(serve(*configs))


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def run_server(target: str, *, host: str, port: int, workers: int) -> None:
    config = server_config(target, host=host, port=port, factory=True, workers=workers)
    if workers == 1:
        GuardedServer(config).run()
        return
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[config.bind_socket()]).run()


def cmd_api(args: argparse.Namespace) -> None:
    # Before the settings are read. The frontend proves itself with an HMAC under the same key: a
    # random one per process (or per worker) would refuse its relayed questions and reports.
    provide_secret_key(args.host)
    require_single_worker(get_settings(), args.workers)
    run_server("app.main:create_app", host=args.host, port=args.port, workers=args.workers)


def cmd_web(args: argparse.Namespace) -> None:
    try:
        import frontend.main  # noqa: F401
    except ImportError:
        fail("the frontend package is not installed")
    # Moderators' sessions and login throttling are shared through Redis, as live changes are.
    require_single_worker(get_settings(), args.workers)
    provide_secret_key(args.host)
    run_server("frontend.main:create_app", host=args.host, port=args.port, workers=args.workers)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
