"""The OpenAPI 3.1 document of the native REST API, written from the operation table.

Paths, methods, parameters, bodies and answers all come from web/spec/operations.py (which
routes.py registers), the schemas from the msgspec Structs the handlers decode with (bodies:
web/schemas.py, queries: web/queries.py) and describe their answers with
(web/spec/responses.py), the error answers from the catalogue (web/errors.py).
"""

from __future__ import annotations

from typing import Any

import msgspec

from exchange.config import Settings
from exchange.limits import Limits, limits_json
from exchange.signing import API_KEY_PATTERN
from exchange.web.errors import CATALOGUE
from exchange.web.schemas import ID_PATTERN, Username
from exchange.web.spec.components import package_version, schemas
from exchange.web.spec.declare import SAFE, Auth, Operation
from exchange.web.spec.responses import ErrorBody

V1 = "/api/v1"
REF = "#/components/schemas/"
SIGNED: dict[str, list[str]] = {"apiKey": [], "timestamp": [], "signature": []}
_RETRY_AFTER = {"Retry-After": {"description": "whole seconds to wait, at least 1",
                                "schema": {"type": "integer", "minimum": 1}}}  # fmt: skip


def security_schemes(limits: Limits) -> dict[str, Any]:
    """The HMAC headers and the session, with the windows this server keeps (``limits``)."""
    window, days = limits.signing_window_ms / 1000, limits.session_lifetime_s / 86400
    return {
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY",
                   "description": "The API key (`ak_` + 32 hex digits); goes with X-TIMESTAMP and "
                   "X-SIGNATURE."},
        "timestamp": {"type": "apiKey", "in": "header", "name": "X-TIMESTAMP",
                      "description": f"The current time in ms, 1-19 ASCII digits, within {window:g} s of the "
                      "server's."},
        "signature": {"type": "apiKey", "in": "header", "name": "X-SIGNATURE",
                      "description": "Lowercase hex HMAC-SHA256 under the key's secret of X-TIMESTAMP + "
                      "METHOD + path with query (as sent) + body bytes (exchange/signing.py)."},
        "session": {"type": "apiKey", "in": "cookie", "name": "session",
                    "description": f"The browser session set by signup or login ({days:g} days)."},
        "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                 "description": "The session's CSRF token (signup, login, /auth/me answer it): required "
                 "with the cookie on any method but GET, HEAD and OPTIONS."},
    }  # fmt: skip


OPERATOR_ONLY = (
    "Operators only: the same API key or session as any route, of an account with the operator role "
    "(`python -m exchange operator add NAME`); any other account gets 403 `FORBIDDEN`."
)


def info(settings: Settings) -> dict[str, Any]:
    """The document's ``info``. The hook for what the settings decide (limits, demo mode):
    add it here, from ``settings``, and the document shows what this server enforces."""
    return {
        "title": "Exchange native API",
        "version": package_version(),
        "description": "The native REST API of the exchange (docs/API.md). Prices, quantities and "
        "amounts are decimal strings; ids are decimal strings; times are ms since the Unix epoch. "
        "Every error is `{code, message}` with a code of the catalogue; each operation lists the "
        "codes it may answer under its error statuses (`x-error-codes`). The WebSocket `/ws` is "
        f"described by `{V1}/asyncapi.json`.",
        "x-limits": limits_json(settings.limits),  # what this server enforces, as GET /limits answers
    }


def document(settings: Settings, operations: tuple[Operation, ...]) -> dict[str, Any]:
    types: list[Any] = [ErrorBody]
    for op in operations:
        types += [op.response, op.body, op.query]
    present = [t for t in types if t is not None]
    refs, components = schemas(present, [None] * len(present), REF)
    ref_of = {id(t): ref for t, ref in zip(present, refs, strict=True)}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(V1 + op.path, {})[op.method.lower()] = _operation(op, ref_of, components)
    for op in operations:  # the queries' own objects became parameters
        if op.query is not None:
            components.pop(op.query.__name__, None)
    tags = sorted({op.tag for op in operations})
    return {
        "openapi": "3.1.0",
        "info": info(settings),
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": security_schemes(settings.limits)},
    }


def _operation(op: Operation, ref_of: dict[int, Any], components: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    description = " ".join(filter(None, (op.description, OPERATOR_ONLY if op.auth is Auth.OPERATOR else "")))
    if description:
        found["description"] = description
    params = _path_params(op.path) + (_query_params(components[op.query.__name__]) if op.query else [])
    if params:
        found["parameters"] = params
    if op.body is not None:
        content: dict[str, Any] = {"schema": ref_of[id(op.body)]}
        if op.examples:
            content["examples"] = op.examples
        found["requestBody"] = {"required": op.body_required, "content": {"application/json": content}}
    found["responses"] = _success(op, ref_of[id(op.response)]) | _errors(op)
    found["security"] = _security(op)
    return found


#: The path parameters' schemas (a name not here is any string).
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "api_key": {"type": "string", "pattern": f"^{API_KEY_PATTERN}$"},
    "username": msgspec.json.schema(Username),
    "withdrawal_id": {"type": "string", "pattern": ID_PATTERN, "examples": ["3"]},
}


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    schema = {"type": "string"}
    return [{"name": n, "in": "path", "required": True, "schema": PATH_PARAMS.get(n, schema)} for n in names]


def _query_params(struct_schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(struct_schema.get("required", ()))
    out = []
    for name, schema in struct_schema["properties"].items():
        schema = dict(schema)
        # ``X | None`` is how a Struct says "may be absent"; a query parameter is absent, never null.
        variants = schema.pop("anyOf", None)
        if variants is not None:
            schema |= next(v for v in variants if v.get("type") != "null")
        if schema.get("default", 0) is None:
            del schema["default"]
        param = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if "description" in schema:
            param["description"] = schema["description"]
        out.append(param)
    return out


def _success(op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if op.response_example is not None:
        content["example"] = op.response_example
    answer: dict[str, Any] = {"description": op.summary, "content": {"application/json": content}}
    if op.links:
        answer["links"] = op.links
    if op.headers:
        answer["headers"] = op.headers
    return {str(op.status): answer}


def _errors(op: Operation) -> dict[str, Any]:
    """One response per status, with the codes of the catalogue this operation may answer."""
    by_status: dict[int, list[str]] = {}
    for code in op.codes():
        by_status.setdefault(CATALOGUE[code].status, []).append(code)
    out = {}
    for status, codes in sorted(by_status.items()):
        lines = "\n".join(f"- `{code}`: {CATALOGUE[code].meaning}" for code in codes)
        schema = {"allOf": [{"$ref": REF + "ErrorBody"}, {"properties": {"code": {"enum": codes}}}]}
        answer: dict[str, Any] = {
            "description": f"{', '.join(codes)}\n\n{lines}",
            "x-error-codes": codes,
            "content": {"application/json": {"schema": schema}},
        }
        if status in (429, 503):
            answer["headers"] = _RETRY_AFTER
        out[str(status)] = answer
    return out


def _security(op: Operation) -> list[dict[str, list[str]]]:
    if op.auth is Auth.NONE:
        return []
    session: dict[str, list[str]] = {"session": []} if op.method in SAFE else {"session": [], "csrf": []}
    either: list[dict[str, list[str]]] = [SIGNED, session]
    return [*either, {}] if op.auth is Auth.OPTIONAL else either
