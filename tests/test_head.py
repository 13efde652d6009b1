"""`HEAD` answers every `GET` route with the GET's status and headers and no body."""

from __future__ import annotations

from tests.conftest import DINER, Api

# `transfer-encoding` is framing, not content: a streamed GET is chunked, its HEAD has no body to frame.
VARYING = {"date", "x-request-id", "transfer-encoding"}


async def test_head_answers_every_get_route_with_the_same_headers_and_no_body(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    paths = [path for path, operations in document["paths"].items() if "get" in operations]
    paths += ["/openapi.json", "/docs"]
    assert len(paths) >= 12
    for template in paths:
        path = template.replace("{slug}", DINER)
        # A stream (the SSE live feed) never ends: its GET is read up to its headers.
        async with api.client.stream("GET", path) as got:
            pass
        head = await api.client.head(path)
        assert head.status_code == got.status_code, (path, head.status_code, head.text)
        assert head.content == b"", path
        same = {k: v for k, v in got.headers.items() if k not in VARYING}
        assert {k: v for k, v in head.headers.items() if k not in VARYING} == same, path
    # A conditional HEAD is answered like a conditional GET.
    etag = (await api.client.get(f"/api/v1/events/{DINER}")).headers["etag"]
    conditional = await api.client.head(f"/api/v1/events/{DINER}", headers={"If-None-Match": etag})
    assert conditional.status_code == 304
    # HEAD on a path only POST knows is still refused, as GET is.
    refused = await api.client.head(f"/api/v1/events/{DINER}/control")
    assert (refused.status_code, refused.content) == (405, b"")


async def test_the_api_docs_load_every_asset_from_the_server_itself(api: Api) -> None:
    import re

    for page in ("/docs", "/redoc"):
        html = (await api.client.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(url.startswith("/") for url in assets), (page, assets)
        for url in assets:
            response = await api.client.get(url)
            assert response.status_code == 200 and len(response.content) > 1000, url
    assert "SwaggerUIBundle" in (await api.client.get("/docs")).text
