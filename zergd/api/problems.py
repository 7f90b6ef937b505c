"""How errors leave the API: the one place typed errors become status codes
(zergd.errors), request validation as one sentence, and the OpenAPI
document saying so."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..errors import ZergError

VALIDATION = "a parameter or the body has the wrong type, is missing or is out of range"
UNPARSABLE = "the body cannot be read as what it says it is (JSON that is not JSON, text that is not UTF-8)"


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ZergError)
    async def zerg_error(_request, exc: ZergError):
        return JSONResponse({"detail": str(exc)}, exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request, exc: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
                    for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems)}, 422)


def document_errors(app: FastAPI) -> dict:
    """The OpenAPI document, saying what a 422 really holds: ``{"detail":
    "..."}`` (add_error_handlers), not FastAPI's list of validation errors."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses["422"] = _error(VALIDATION)
                if "requestBody" in operation and "400" not in responses:
                    responses["400"] = _error(UNPARSABLE)  # Starlette's, before validation
        for unused in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
