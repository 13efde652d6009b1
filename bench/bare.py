"""The API read baseline: a bare Starlette endpoint answering a fixed JSON body.

Served by the same uvicorn settings as `regie api` (`app.cli.server_config`: access log,
httptools, uvloop), so the difference with Régie's reads is what Régie does per request.
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.cli import server_config


def create_app(size: int) -> Starlette:
    body = json.dumps({"padding": "x" * max(0, size - 15)}).encode()

    async def bare(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/bare", bare)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", type=int, default=1500)
    arguments = parser.parse_args()
    app = create_app(arguments.size)
    uvicorn.Server(server_config(app, host="127.0.0.1", port=arguments.port)).run()
