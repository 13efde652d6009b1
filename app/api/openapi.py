"""The OpenAPI document, made to say what the API really answers.

FastAPI documents every route's 422 as its own `HTTPValidationError` (a list in `detail`), but
Régie answers a malformed request with a sentence in `detail` and the list in `errors`
(`app.api.errors.validation_error`). A generated client trusts the document, so the document
is corrected here, once, after FastAPI has built it.
"""

from __future__ import annotations

import copy
from typing import Any

FASTAPI_422 = "#/components/schemas/HTTPValidationError"
ERROR_DETAIL = "#/components/schemas/ErrorDetail"
REGIE_422 = "#/components/schemas/Malformed"
MALFORMED = "The body or the parameters are malformed: `detail` says how, `errors` lists each problem."


def conform(schema: dict[str, Any]) -> dict[str, Any]:
    """Point every 422 at the body Régie sends, and drop FastAPI's unused error models.

    A 422 is a malformed request (`errors` lists each problem) or a refusal of a well-formed
    one that lacks something (`target_required`, no `errors`): `Malformed` is the error body
    with `errors` optional.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ProgrammeRefused" in components:
        malformed = copy.deepcopy(components["ProgrammeRefused"])
        malformed["title"] = "Malformed"
        malformed["required"] = [name for name in malformed.get("required", []) if name != "errors"]
        malformed["description"] = "A malformed request: `errors` lists each problem when there are several."
        components["Malformed"] = malformed
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if not answer:
                continue
            for content in answer.get("content", {}).values():
                if content.get("schema", {}).get("$ref") in (FASTAPI_422, ERROR_DETAIL):
                    content["schema"] = {"$ref": REGIE_422}
            if answer.get("description") == "Validation Error":
                answer["description"] = MALFORMED
    text = repr(schema.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if name in components and f"#/components/schemas/{name}" not in text:
            del components[name]
    return schema
