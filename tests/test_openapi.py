"""The OpenAPI document says what the API really answers, and a client generated from it types.

Third parties generate clients from `/openapi.json` (openapi-python-client here): a response
the document describes wrongly becomes a client that crashes or refuses valid data.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from tests.conftest import DINER, Api

EXPORTS = (
    "calendar.ics",
    "schedule.xml",
    "schedule.json",
    "chapters.vtt",
    "chapters.txt",
    "chapters.json",
    "report.csv",
    "report.xlsx",
)


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    """A validator of `schema`, whose `$ref`s point into the document's components."""
    return jsonschema_rs.Draft202012Validator({"components": document["components"], **schema})


async def test_every_export_answers_the_content_type_its_openapi_entry_documents(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    for name in EXPORTS:
        documented = document["paths"][f"/api/v1/events/{{slug}}/{name}"]["get"]["responses"]["200"][
            "content"
        ]
        response = await api.client.get(f"/api/v1/events/{DINER}/{name}")
        media_type = response.headers["content-type"].split(";")[0]
        assert list(documented) == [media_type], name


async def test_schedule_json_matches_its_documented_schema(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    schema = document["paths"]["/api/v1/events/{slug}/schedule.json"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    body = (await api.client.get(f"/api/v1/events/{DINER}/schedule.json")).json()
    validator(document, schema).validate(body)
    assert set(body) == set(schema["properties"]) == {"$schema", "generator", "schedule"}


async def test_a_malformed_request_answers_the_422_body_the_document_describes(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    token = await api.token()
    response = await api.client.post(
        f"/api/v1/events/{DINER}/control",
        json={"action": "jump", "expected_version": "soon"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["detail"], str) and body["errors"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"].get("422")
            if answer is None:
                continue
            schema = answer["content"]["application/json"]["schema"]
            validator(document, schema).validate(body)
            assert "errors" in json.dumps(
                document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            ), (
                path,
                method,
            )
    assert "HTTPValidationError" not in json.dumps(document)
    # A well-formed press that lacks its target is a 422 without `errors`: documented too.
    refused = await api.client.post(
        f"/api/v1/events/{DINER}/control",
        json={"action": "goto", "expected_version": 0, "target": None},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 422 and "errors" not in refused.json()
    control = document["paths"]["/api/v1/events/{slug}/control"]["post"]["responses"]["422"]
    validator(document, control["content"]["application/json"]["schema"]).validate(refused.json())


CLIENT_CONFIG = """\
content_type_overrides:
  application/xml: text/plain
  text/calendar: text/plain
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
"""
# `client.py` is the generator's own fixed template (the same for every API, nothing of ours in
# it) and trips mypy's newest `*args` checks; every module built from our document is checked.
MYPY_CONFIG = """\
[mypy]
strict = True
[mypy-regie_client.client]
ignore_errors = True
"""


@pytest.mark.skipif(
    importlib.util.find_spec("openapi_python_client") is None, reason="needs openapi-python-client"
)
async def test_a_client_generated_from_the_openapi_document_passes_mypy_strict(
    api: Api, tmp_path: Path
) -> None:
    (tmp_path / "openapi.json").write_text((await api.client.get("/openapi.json")).text, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(CLIENT_CONFIG, encoding="utf-8")
    (tmp_path / "mypy.ini").write_text(MYPY_CONFIG, encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    generated = subprocess.run(
        [f"{bin_dir}/openapi-python-client", "generate", "--path", "openapi.json", "--meta", "none",
         "--output-path", "regie_client", "--config", "config.yaml"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "WARNING" not in generated.stdout + generated.stderr, generated.stdout
    assert (tmp_path / "regie_client" / "models" / "live_state.py").exists()
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--no-incremental", "regie_client"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
