"""The OpenAPI document, made to say what the API really answers.

FastAPI documents every route's 422 as its own `HTTPValidationError` (a list in `detail`), but
Régie answers a malformed request with a sentence in `detail` and the list in `errors`
(`app.api.errors.validation_error`). A generated client trusts the document, so the document
is corrected here, once, after FastAPI has built it.
"""

from __future__ import annotations

from typing import Any

FASTAPI_422 = "#/components/schemas/HTTPValidationError"
REGIE_422 = "#/components/schemas/ProgrammeRefused"
MALFORMED = "The body or the parameters are malformed: `detail` says how, `errors` lists each problem."


def conform(schema: dict[str, Any]) -> dict[str, Any]:
    """Point every 422 at the body Régie sends, and drop FastAPI's unused error models."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if not answer:
                continue
            for content in answer.get("content", {}).values():
                if content.get("schema", {}).get("$ref") in (FASTAPI_422, "#/components/schemas/ErrorDetail"):
                    content["schema"] = {"$ref": REGIE_422}
            if answer.get("description") == "Validation Error":
                answer["description"] = MALFORMED
    components = schema.get("components", {}).get("schemas", {})
    text = repr(schema.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if name in components and f"#/components/schemas/{name}" not in text:
            del components[name]
    return schema
