"""Every failure becomes the API's error JSON; a 5xx other than 503 is logged as a bug.

Under ``/api/v3`` (the Binance-compatible face, web/binance/) bodies are Binance's form bodies,
not JSON, and errors are answered in Binance's shape from the same catalogue.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from exchange.bus.base import EngineTimeout, Unavailable
from exchange.web.errors import ApiError, bus_error

log = logging.getLogger(__name__)

#: aiohttp's own refusals, as catalogue codes; any other 4xx it raises is a bad request.
_HTTP_CODES = {
    404: ("NOT_FOUND", "no such route"),
    405: ("METHOD_NOT_ALLOWED", "method not allowed on this route"),
    413: ("PAYLOAD_TOO_LARGE", "request body is too large"),
}


JSON_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BINANCE_PREFIX = "/api/v3/"


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one middleware (each layer costs every request): JSON-only bodies, error mapping."""
    try:
        if request.method in JSON_METHODS and request.body_exists and _not_json(request):
            raise ApiError("UNSUPPORTED_MEDIA_TYPE", "send bodies as application/json")
        return await handler(request)
    except (ApiError, Unavailable, EngineTimeout) as exc:  # the last two: reads over the bus
        return _answer(request, exc if isinstance(exc, ApiError) else bus_error(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_CODES.get(exc.status, ("INVALID_REQUEST", exc.reason))
        return _answer(request, ApiError(code, message))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _answer(request, ApiError("INTERNAL", "internal error; it has been logged"))


def _answer(request: web.Request, exc: ApiError) -> web.Response:
    return exc.binance_response() if request.path.startswith(BINANCE_PREFIX) else exc.response()


def _not_json(request: web.Request) -> bool:
    # The usual header first: parsing it (and building the path) costs every order ~1 us.
    if request.headers.get("Content-Type") == "application/json":
        return False
    path = request.path
    return (
        path.startswith("/api/")
        and not path.startswith(BINANCE_PREFIX)
        and request.content_type != "application/json"
    )
